/**
 * Looking up what the run store recorded, for the commands that inspect
 * past runs (`explain`, `show`, `runs show`, `runs compare`): a run by id
 * or the last one, a process of it, a step of that process. Each miss is a
 * usage error saying what there is instead.
 */
import { RunReport, RunStore } from "@expops/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { UsageError } from "../Errors.ts"

/** The run `id`, or the last one recorded when none is given. `dir` is the project as the user named it. */
export const run = Effect.fnUntraced(function*(dir: string, id: Option.Option<string>) {
  const runs = yield* RunStore.RunStore
  const wanted = Option.isSome(id) ? id.value : (yield* runs.listRuns({ limit: 1 }))[0]?.id
  if (wanted === undefined) {
    return yield* new UsageError({ message: `no runs are recorded in ${dir} yet; run \`expops run ${dir}\` first` })
  }
  const report = Option.getOrUndefined(yield* runs.getRun(wanted))
  if (report === undefined) return yield* new UsageError({ message: `no run ${wanted} in ${dir} (see \`expops runs ls ${dir}\`)` })
  return report
})

/**
 * The processes of a recorded run a name stands for: a process, a fan-out
 * branch by its own name (`train_model_seed41`), or every branch of a
 * process by the process's name.
 */
export const processes = (
  report: RunReport.RunReport,
  name: string
): Effect.Effect<readonly [RunReport.ProcessReport, ...Array<RunReport.ProcessReport>], UsageError> =>
  RunReport.findProcesses(report, name).pipe(Effect.mapError((cause) => new UsageError({ message: cause.message, cause })))

/** The calls of a step a process of a recorded run made (a step called several times made several). */
export const stepCalls = (
  report: RunReport.RunReport,
  proc: RunReport.ProcessReport,
  name: string
): Effect.Effect<ReadonlyArray<RunReport.StepReport>, UsageError> => {
  const calls = proc.steps.filter((s) => s.name === name)
  if (calls.length > 0) return Effect.succeed(calls)
  const known = [...new Set(proc.steps.map((s) => s.name))]
  return Effect.fail(
    new UsageError({ message: `process ${proc.name} ran no step ${name} in run ${report.run.id} (steps: ${known.length > 0 ? known.join(", ") : "none"})` })
  )
}
