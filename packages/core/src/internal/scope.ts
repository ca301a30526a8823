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
