/**
 * The local backend could not be opened: the cache folder cannot be created
 * or written, or the SQLite file cannot be used. Names the path, so the user
 * knows what to fix; nothing already stored is touched.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 */
export class LocalBackendError extends Schema.TaggedError<LocalBackendError>()("LocalBackendError", {
  /** What was being done: `open the cache folder`, `open the SQLite database`, ... */
  operation: Schema.String,
  /** The folder or file involved. */
  path: Schema.String,
  /** A plain-words description of the cause. */
  reason: Schema.String,
  /** The error behind it: its errno code and stack. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `local backend: ${this.detail}`
  }

  /** What failed and why, without naming the backend: for a caller that names it already. */
  get detail(): string {
    return `could not ${this.operation} at ${this.path}: ${this.reason}`
  }
}
