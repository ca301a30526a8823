/**
 * The lines of a chart of one metric over runs: for each run, each series
 * of that name it logged (one per process and step that logged it: a
 * fan-out's branches each have theirs), its points ordered by index. What
 * cannot be drawn is a usage error that says what the runs have instead.
 */
import type { Metrics, RunReport } from "@expops/core"
import * as Effect from "effect/Effect"
import { UsageError } from "../../Errors.ts"
import type * as Svg from "./Svg.ts"

/** Where a metric was logged: `train_model/fit`, or `train_model` for a process's own. */
const origin = (m: Metrics.Metric): string => (m.step === undefined ? m.process : `${m.process}/${m.step}`)

interface Logged {
  /** Metric name -> origin -> index -> value (the last logged at an index wins). */
  readonly byName: Map<string, Map<string, Map<number, number>>>
}

const logged = (report: RunReport.RunReport): Logged => {
  const byName = new Map<string, Map<string, Map<number, number>>>()
  for (const m of report.metrics ?? []) {
    let origins = byName.get(m.name)
    if (origins === undefined) byName.set(m.name, origins = new Map())
    let points = origins.get(origin(m))
    if (points === undefined) origins.set(origin(m), points = new Map())
    // A diverged value (NaN, Infinity; null once stored as JSON) has no place on a chart.
    points.set(m.index, typeof m.value === "number" && Number.isFinite(m.value) ? m.value : Number.NaN)
  }
  return { byName }
}

/** `loss (stepped, 300 points)`, `accuracy (scalar)`: what a run logged, for messages. */
const describe = (log: Logged): string => {
  const names = [...log.byName.keys()].sort()
  if (names.length === 0) return "it logged no metrics"
  return `its metrics: ${
    names.map((name) => {
      const most = Math.max(...[...log.byName.get(name)!.values()].map((points) => points.size))
      return most > 1 ? `${name} (stepped, ${most} points)` : `${name} (scalar)`
    }).join(", ")
  }`
}

/** Whether a run logged `metric` at all. */
export const has = (report: RunReport.RunReport, metric: string): boolean => (report.metrics ?? []).some((m) => m.name === metric)

/**
 * The series of `metric` in `reports`, labelled by run (and by where it was
 * logged, when a run logged it in several places).
 */
export const of = (
  reports: ReadonlyArray<RunReport.RunReport>,
  metric: string
): Effect.Effect<{ readonly series: Array<Svg.Series>; readonly nonFinite: number }, UsageError> =>
  Effect.suspend(() => {
    const series: Array<Svg.Series> = []
    let nonFinite = 0
    const origins = new Set<string>()
    for (const report of reports) {
      const log = logged(report)
      const found = log.byName.get(metric)
      if (found === undefined) {
        return Effect.fail(new UsageError({ message: `run ${report.run.id} has no metric ${metric}; ${describe(log)}` }))
      }
      for (const key of found.keys()) origins.add(key)
    }
    // The seed names a run too, when the runs differ by it.
    const seeds = new Set(reports.map((r) => r.run.seed)).size > 1
    for (const report of reports) {
      const found = logged(report).byName.get(metric)!
      const run = seeds ? `${report.run.id} (seed ${report.run.seed})` : report.run.id
      for (const [where, points] of found) {
        const finite = [...points].filter(([, value]) => !Number.isNaN(value))
        nonFinite += points.size - finite.length
        series.push({
          label: found.size > 1 || origins.size > 1 ? `${run} ${where}` : run,
          points: finite.sort(([a], [b]) => a - b)
        })
      }
    }
    if (series.every((s) => s.points.length === 0)) {
      return Effect.fail(new UsageError({ message: `metric ${metric} has no finite value to draw (${nonFinite} NaN or infinite)` }))
    }
    if (series.every((s) => s.points.length <= 1)) {
      const values = series.filter((s) => s.points.length > 0).map((s) => `${s.points[0]![1]} in ${s.label}`).join(", ")
      return Effect.fail(
        new UsageError({
          message: `metric ${metric} is a scalar (logged once: ${values}); runs plot draws a metric logged at several indices ` +
            `(Metrics.logMetric("${metric}", value, epoch)); compare scalars with \`expops runs compare\``
        })
      )
    }
    return Effect.succeed({ series, nonFinite })
  })
