/** Metrics of one or more runs: stepped metrics as line charts (the runs overlaid), scalars as a table. */
import { useEffect, useState } from "preact/hooks"
import * as Api from "./api.ts"
import { Chart } from "./Chart.tsx"
import * as Format from "./format.ts"
import * as Metrics from "./metrics.ts"
import { RunPicker } from "./RunPicker.tsx"

export const useReports = (ids: ReadonlyArray<string>) => {
  const [reports, setReports] = useState<ReadonlyArray<Api.Report> | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  useEffect(() => {
    setReports(undefined)
    Promise.all(ids.map(Api.report)).then(setReports, (e: Error) => setError(e.message))
  }, [ids.join(",")])
  return { reports, error }
}

export const MetricCharts = (props: { readonly reports: ReadonlyArray<Api.Report> }) => {
  const charts = Metrics.charts(props.reports)
  if (charts.length === 0) return <p class="muted">no metric was logged at more than one index</p>
  return (
    <div class="charts">
      {charts.map((c) => <Chart key={c.id} title={c.id} metric={c.name} series={c.lines} />)}
    </div>
  )
}

export const MetricsPage = (props: { readonly ids: ReadonlyArray<string> }) => {
  const { error, reports } = useReports(props.ids)
  return (
    <section>
      <h1>Metrics</h1>
      <RunPicker selected={props.ids} page="metrics" />
      {error !== undefined ? <p class="error">{error}</p> : reports === undefined ? <p class="muted">loading…</p> : props.ids.length === 0 ? (
        <p class="muted">pick one or more runs</p>
      ) : (
        <>
          <MetricCharts reports={reports} />
          <h2>Values</h2>
          <ScalarTable reports={reports} />
        </>
      )}
    </section>
  )
}

/** Every metric's last value per run (stepped ones too: their last point). */
const ScalarTable = (props: { readonly reports: ReadonlyArray<Api.Report> }) => {
  const all = Metrics.groups(props.reports)
  if (all.length === 0) return <p class="muted">no metrics logged</p>
  return (
    <table class="scalars">
      <thead>
        <tr><th>metric</th>{props.reports.map((r) => <th key={r.run.id}>{r.run.id}</th>)}</tr>
      </thead>
      <tbody>
        {all.map((g) => (
          <tr key={g.id} data-metric={g.name}>
            <td>{g.id}{g.stepped ? <span class="muted"> (last of {Math.max(...g.runs.map((p) => p.length))})</span> : null}</td>
            {g.runs.map((points, i) => <td key={i}>{Format.value(Metrics.last(points))}</td>)}
          </tr>
        ))}
      </tbody>
    </table>
  )
}
