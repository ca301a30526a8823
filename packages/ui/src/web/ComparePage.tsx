/** Two or more runs side by side: what differs first (parameters, statuses, metrics), then the rest; metrics overlaid. */
import * as Api from "./api.ts"
import * as Format from "./format.ts"
import * as Metrics from "./metrics.ts"
import { MetricCharts, useReports } from "./MetricsPage.tsx"
import { RunPicker } from "./RunPicker.tsx"

interface Row {
  readonly kind: "run" | "parameter" | "status" | "metric"
  readonly what: string
  readonly values: ReadonlyArray<unknown>
  readonly same: boolean
}

/** Top-level parameters as they are; nested ones by their path (`optimizer.lr`). */
const flatten = (value: unknown, prefix: string, into: Map<string, unknown>) => {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === "" ? k : `${prefix}.${k}`, into)
  } else into.set(prefix, value)
}

export const rows = (reports: ReadonlyArray<Api.Report>): Array<Row> => {
  const out: Array<Row> = []
  const add = (kind: Row["kind"], what: string, values: ReadonlyArray<unknown>) => {
    const shown = values.map((v) => JSON.stringify(v))
    out.push({ kind, what, values, same: shown.every((v) => v === shown[0]) })
  }
  for (const field of ["status", "seed", "backend"] as const) add("run", field, reports.map((r) => r.run[field]))
  const names = [...new Set(reports.flatMap((r) => r.processes.map((p) => p.name)))]
  const proc = (r: Api.Report, name: string) => r.processes.find((p) => p.name === name)
  for (const name of names) {
    const params = reports.map((r) => {
      const flat = new Map<string, unknown>()
      const p = proc(r, name)?.parameters
      if (p !== undefined) flatten(p, "", flat)
      return flat
    })
    for (const key of [...new Set(params.flatMap((p) => [...p.keys()]))]) add("parameter", `${name}.${key}`, params.map((p) => p.get(key)))
  }
  for (const name of names) add("status", name, reports.map((r) => proc(r, name)?.status))
  for (const g of Metrics.groups(reports)) add("metric", g.id, g.runs.map(Metrics.last))
  return [...out.filter((r) => !r.same), ...out.filter((r) => r.same)]
}

export const ComparePage = (props: { readonly ids: ReadonlyArray<string> }) => {
  const { error, reports } = useReports(props.ids)
  return (
    <section>
      <h1>Compare</h1>
      <RunPicker selected={props.ids} page="compare" />
      {error !== undefined ? <p class="error">{error}</p> : props.ids.length < 2 ? <p class="muted">pick two or more runs</p> : reports === undefined ? (
        <p class="muted">loading…</p>
      ) : <Comparison reports={reports} />}
    </section>
  )
}

const Comparison = (props: { readonly reports: ReadonlyArray<Api.Report> }) => {
  const all = rows(props.reports)
  const differs = all.filter((r) => !r.same)
  const line = (r: Row) => (
    <tr key={`${r.kind}:${r.what}`} class={r.same ? "same" : "differs"} data-kind={r.kind} data-what={r.what} data-same={String(r.same)}>
      <td>{r.kind === "run" ? r.what : `${r.kind} ${r.what}`}</td>
      {r.values.map((v, i) => <td key={i}>{Format.value(v)}</td>)}
    </tr>
  )
  return (
    <>
      <table class="compare">
        <thead>
          <tr>
            <th />
            {props.reports.map((r) => <th key={r.run.id}><a href={`#/run/${encodeURIComponent(r.run.id)}`}>{r.run.id}</a><div class="muted">{Format.time(r.run.startedAt)}</div></th>)}
          </tr>
        </thead>
        <tbody>
          <tr class="group"><td colSpan={props.reports.length + 1}>{differs.length > 0 ? `differs (${differs.length})` : "nothing differs"}</td></tr>
          {differs.map(line)}
          <tr class="group"><td colSpan={props.reports.length + 1}>the same</td></tr>
          {all.filter((r) => r.same).map(line)}
        </tbody>
      </table>
      <h2>Metrics overlaid</h2>
      <MetricCharts reports={props.reports} />
    </>
  )
}
