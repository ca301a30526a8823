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

export interface Chart {
  /** `loss (train_model/fit)`: a fan-out's branches on the chart of the process they are copies of. */
  readonly id: string
  readonly name: string
  /** One line per run and branch. */
  readonly lines: ReadonlyArray<{ readonly label: string; readonly points: ReadonlyArray<readonly [number, number]> }>
}

/** The stepped metrics as charts: one per metric, process (a branch's base) and step; a line per run and branch. */
export const charts = (reports: ReadonlyArray<Report>): Array<Chart> => {
  const byId = new Map<string, { name: string; lines: Map<string, Map<number, number>> }>()
  for (const report of reports) {
    const baseOf = new Map(report.processes.map((p) => [p.name, p.base]))
    for (const m of report.metrics ?? []) {
      const base = baseOf.get(m.process)
      const id = `${m.name} (${base ?? m.process}${m.step !== undefined ? `/${m.step}` : ""})`
      let chart = byId.get(id)
      if (chart === undefined) byId.set(id, chart = { name: m.name, lines: new Map() })
      const label = reports.length > 1 && base !== undefined ? `${report.run.id} ${m.process}` : base !== undefined ? m.process : report.run.id
      let line = chart.lines.get(label)
      if (line === undefined) chart.lines.set(label, line = new Map())
      line.set(m.index, m.value)
    }
  }
  return [...byId]
    .map(([id, c]) => ({
      id,
      name: c.name,
      lines: [...c.lines].map(([label, points]) => ({ label, points: [...points].sort((a, b) => a[0] - b[0]) as Array<readonly [number, number]> }))
    }))
    .filter((c) => c.lines.some((l) => l.points.length > 1))
}
