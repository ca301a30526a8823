/**
 * `expops runs plot DIR [RUN...] --metric NAME -o FILE.svg|.png`: a line
 * chart of a stepped metric (a loss per epoch) over one or more runs, one
 * line per run, for reports and CI. The SVG is written by
 * `internal/plot/Svg.ts`; a PNG is that SVG rasterized by resvg.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import { RunStore } from "@expops/core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Backends from "./Backends.ts"
import { UsageError } from "./Errors.ts"
import * as Flags from "./internal/flags.ts"
import * as Png from "./internal/plot/Png.ts"
import * as Series from "./internal/plot/Series.ts"
import * as Svg from "./internal/plot/Svg.ts"
import * as Recorded from "./internal/recorded.ts"
import * as WorkingDirectory from "./WorkingDirectory.ts"

const withRuns = Backends.withService(RunStore.RunStore)

const FORMATS = [".svg", ".png"] as const

/** The runs to draw: those named, else the `last` latest that logged the metric, else the last run. */
const choose = Effect.fnUntraced(function*(dir: string, ids: ReadonlyArray<string>, last: Option.Option<number>, metric: string) {
  if (ids.length > 0) return yield* Effect.forEach(ids, (id) => Recorded.run(dir, Option.some(id)))
  if (Option.isNone(last)) return [yield* Recorded.run(dir, Option.none())]
  const store = yield* RunStore.RunStore
  const summaries = yield* store.listRuns()
  const chosen = []
  for (const summary of summaries) {
    if (chosen.length >= last.value) break
    const report = Option.getOrUndefined(yield* store.getRun(summary.id))
    if (report !== undefined && Series.has(report, metric)) chosen.push(report)
  }
  if (chosen.length === 0) {
    return summaries.length === 0
      ? yield* new UsageError({ message: `no runs are recorded in ${dir} yet; run \`expops run ${dir}\` first` })
      : yield* new UsageError({ message: `none of the ${summaries.length} runs recorded in ${dir} logged a metric ${metric}` })
  }
  // Oldest first: the legend reads in the order the runs were made.
  return chosen.reverse()
})

const plot = Command.make("plot", {
  dir: Flags.dir,
  runs: Argument.String("run").pipe(
    Argument.variadic(),
    Argument.withDescription("Run ids to draw, one line each (default: the last run; see `expops runs ls`)")
  ),
  metric: Flag.String("metric").pipe(Flag.withDescription("The metric to draw: one logged at several indices, e.g. a loss per epoch")),
  output: Flag.String("output").pipe(Flag.withAlias("o"), Flag.withDescription("The file to write: FILE.svg or FILE.png")),
  last: Flag.Int("last").pipe(
    Flag.optional,
    Flag.withDescription("Instead of run ids: the N latest runs that logged the metric")
  ),
  width: Flag.Int("width").pipe(Flag.withDefault(800), Flag.withDescription("Width in pixels (default 800)")),
  height: Flag.Int("height").pipe(Flag.withDefault(480), Flag.withDescription("Height in pixels (default 480)")),
  backend: Flags.backend
}, Effect.fn("expops.runs.plot")(function*({ backend, dir, height, last, metric, output, runs, width }) {
  const path = yield* Path.Path
  const extension = path.extname(output).toLowerCase()
  if (!(FORMATS as ReadonlyArray<string>).includes(extension)) {
    return yield* new UsageError({
      message: `-o ${output}: unsupported format ${extension === "" ? "(no extension)" : extension}; write FILE.svg or FILE.png`
    })
  }
  if (width < 200 || height < 150) return yield* new UsageError({ message: `--width and --height must be at least 200 by 150 (got ${width} by ${height})` })
  if (Option.isSome(last) && (last.value < 1 || runs.length > 0)) {
    return yield* new UsageError({ message: runs.length > 0 ? "give run ids or --last N, not both" : `--last must be at least 1 (got ${last.value})` })
  }
  if (runs.length > 10) return yield* new UsageError({ message: `at most 10 runs fit on one chart (got ${runs.length})` })

  const reports = yield* withRuns(dir, backend, () => choose(dir, runs, last, metric))
  const { nonFinite, series } = yield* Series.of(reports, metric)
  const pipelines = [...new Set(reports.map((r) => r.run.pipeline))]
  const svg = Svg.render({
    title: metric,
    subtitle: `${pipelines.join(", ")}: ${reports.length === 1 ? `run ${reports[0]!.run.id}` : `${reports.length} runs`}`,
    xLabel: "index (step, epoch)",
    yLabel: metric,
    series,
    width,
    height
  })
  const bytes = extension === ".png" ? yield* Png.render(svg) : new TextEncoder().encode(svg)
  const target = path.resolve((yield* WorkingDirectory.WorkingDirectory).path, output)
  yield* (yield* FileSystem.FileSystem).writeFile(target, bytes).pipe(
    Effect.mapError((cause) => new UsageError({ message: `cannot write ${output}: ${cause.message}`, cause }))
  )
  const points = series.reduce((n, s) => n + s.points.length, 0)
  const left = nonFinite > 0 ? ` (${nonFinite} NaN or infinite ${nonFinite === 1 ? "value" : "values"} left out)` : ""
  yield* Console.log(`wrote ${output}: ${metric}, ${series.length} ${series.length === 1 ? "line" : "lines"}, ${points} points${left}`)
})).pipe(
  Command.withDescription("Draw a stepped metric (a loss per epoch) of one or more runs as a line chart, one line per run, to an SVG or PNG file"),
  Command.withExamples([
    { command: "expops runs plot examples/quickstart --metric loss -o loss.svg", description: "The last run's loss curve" },
    { command: "expops runs plot . RUN_A RUN_B --metric loss -o loss.png", description: "Two runs overlaid, as PNG" },
    { command: "expops runs plot . --last 5 --metric loss -o loss.svg", description: "The 5 latest runs that logged loss" }
  ])
)

/**
 * @since 0.1.0
 */
export const command = plot

/**
 * Core errors this module's commands can end with (named for declaration files).
 *
 * @since 0.1.0
 */
export type CoreError = Core.ProjectConfig.ConfigError | Core.CacheStore.CacheStoreError | Core.RunStore.RunStoreError
