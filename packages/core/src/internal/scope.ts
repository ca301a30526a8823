import { Context } from "effect"
import type { StepReport } from "../RunReport.ts"

/**
 * What a step needs to know about the process it runs in: its identity (for
 * the derived seed), the position counters of same-named calls, and where to
 * record its report line. Absent when a step is called outside any process.
 */
export interface ProcessScope {
  readonly pipeline: string
  readonly process: string
  readonly positions: Map<string, number>
  readonly steps: Array<StepReport>
}

export const CurrentProcess = Context.Reference<ProcessScope | undefined>("expops/CurrentProcess", {
  defaultValue: () => undefined
})

/** The position of this call among calls of `step` in the scope: 0, 1, 2, ... */
export const nextPosition = (scope: ProcessScope | undefined, step: string): number => {
  if (scope === undefined) return 0
  const position = scope.positions.get(step) ?? 0
  scope.positions.set(step, position + 1)
  return position
}

/**
 * The step or process whose body is running, and the steps it declared. A
 * step called from a body that did not declare it would be invisible to that
 * body's key, so editing the step would not re-run the caller: the call is
 * refused instead. Absent at the top level, where nothing is cached around
 * the call.
 */
export interface Caller {
  readonly kind: "step" | "process"
  readonly name: string
  readonly steps: ReadonlySet<unknown>
}

export const CurrentCaller = Context.Reference<Caller | undefined>("expops/CurrentCaller", {
  defaultValue: () => undefined
})
