import * as Cause from "effect/Cause"

/** A one-line description of why an effect failed, for reports. */
export const errorMessage = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (error instanceof Error) return error.message || error.name
  return String(error)
}
