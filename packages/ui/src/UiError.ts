/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The web UI could not start: the port is taken, the front end is missing.
 *
 * @since 0.1.0
 */
export class UiError extends Schema.TaggedError<UiError>()("UiError", {
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `web UI: ${this.reason}`
  }
}
