/** Metrics of several runs, grouped for charts (stepped: logged at several indices) and tables (scalars). */
import type { Metric, Report } from "./api.ts"

export interface Group {
  /** `loss (train_model/fit)` */
  readonly id: string
  readonly name: string
  /** Per run (in the order given): its points, in index order. */
  readonly runs: ReadonlyArray<ReadonlyArray<readonly [number, number]>>
  readonly stepped: boolean
}

export const where = (m: Metric): string => `${m.process}${m.step !== undefined ? `/${m.step}` : ""}`

export const groups = (reports: ReadonlyArray<Report>): Array<Group> => {
  const byId = new Map<string, { name: string; runs: Array<Map<number, number>> }>()
  reports.forEach((report, r) => {
    for (const m of report.metrics ?? []) {
      const id = `${m.name} (${where(m)})`
      let group = byId.get(id)
      if (group === undefined) {
        group = { name: m.name, runs: reports.map(() => new Map()) }
        byId.set(id, group)
      }
      group.runs[r]!.set(m.index, m.value)
    }
  })
  return [...byId].map(([id, g]) => {
    const runs = g.runs.map((points) => [...points].sort((a, b) => a[0] - b[0]) as Array<readonly [number, number]>)
    return { id, name: g.name, runs, stepped: runs.some((points) => points.length > 1) }
  })
}

/** A metric's last value in a run (at its largest index). */
export const last = (points: ReadonlyArray<readonly [number, number]>): number | undefined => points[points.length - 1]?.[1]
