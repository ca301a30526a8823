import * as Context from "effect/Context"
import type { StepReport } from "../RunReport.ts"

/**
 * The process a step runs in: where its report line goes. Absent when a step
 * is called outside any process.
 */
export interface ProcessScope {
  readonly pipeline: string
  readonly process: string
  readonly steps: Array<StepReport>
}

export const CurrentProcess = Context.Reference<ProcessScope | undefined>("expops/CurrentProcess", {
  defaultValue: () => undefined
})

/**
 * The step or process whose body is running.
 *
 * - `identity`: the caller's place in the run, which prefixes the identity
 *   (and so the derived seed) of every step it calls.
 * - `occurrences`: how many calls of each step with the same input and
 *   config the body has made, so that repeated identical calls get their
 *   own seeds. Counted per caller, and per input, so that neither calls
 *   nested in cached steps nor the order in which concurrent calls with
 *   different inputs start can shift another call's seed.
 *
 * Absent at the top level, where nothing is cached around the call.
 */
export interface Caller {
  readonly identity: ReadonlyArray<string | number>
  readonly occurrences: Map<string, number>
}

export const CurrentCaller = Context.Reference<Caller | undefined>("expops/CurrentCaller", {
  defaultValue: () => undefined
})

/** The occurrence of this call among identical calls in `caller`: 0, 1, 2, ... */
export const nextOccurrence = (caller: Caller | undefined, call: string): number => {
  if (caller === undefined) return 0
  const occurrence = caller.occurrences.get(call) ?? 0
  caller.occurrences.set(call, occurrence + 1)
  return occurrence
}
