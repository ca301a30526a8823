/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A value could not be encoded with its schema, or has a part with no stored
 * or hashable form. Names the step or process, which value, and where in it.
 *
 * @since 0.1.0
 */
export class EncodeError extends Schema.TaggedError<EncodeError>()("EncodeError", {
  /** `step fit`, `process train_model`. */
  owner: Schema.String,
  /** `input`, `output`, `config`, `parameters`. */
  value: Schema.String,
  /** Where inside the value, e.g. `.rows[3].id`; empty for the whole value. */
  path: Schema.String,
  /** What was wrong. */
  reason: Schema.String,
  /** The schema error or exception behind it, when there is one. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `${this.owner}: cannot encode its ${this.value}${this.path ? ` at ${this.path}` : ""}: ${this.reason}`
  }
}
