/**
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * A step was called from a process or step body that does not list it in
 * its `steps` option. The caller's key includes the code of the steps it
 * declares, which is what makes editing a step re-run the processes that use
 * it; an undeclared call would let a cached caller hide the edit, so it is
 * refused. Add the step to the caller's `steps`.
 *
 * @since 0.1.0
 */
export class UndeclaredStepError extends Schema.TaggedError<UndeclaredStepError>()("UndeclaredStepError", {
  caller: Schema.String,
  step: Schema.String,
  declared: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const declared = this.declared.length === 0 ? "none" : this.declared.map((name) => `"${name}"`).join(", ")
    return `${this.caller} calls step "${this.step}", which is not in its \`steps\` (declared: ${declared}). ` +
      `Add it to \`steps\`, so that editing the step re-runs what uses it.`
  }
}
