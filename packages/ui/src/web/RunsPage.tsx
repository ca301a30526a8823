/** The runs, newest first (runs in progress on top), filtered by status; pick some to chart or compare. */
import { useState } from "preact/hooks"
import * as Api from "./api.ts"
import * as Format from "./format.ts"
import { useChanges } from "./live.ts"

const STATUSES = ["all", "running", "success", "failed", "interrupted"] as const

export const RunsPage = () => {
  const [runs, setRuns] = useState<ReadonlyArray<Api.Summary> | undefined>(undefined)
  const [live, setLive] = useState<ReadonlyArray<Api.LiveRun>>([])
  const [error, setError] = useState<string | undefined>(undefined)
  const [status, setStatus] = useState<(typeof STATUSES)[number]>("all")
  const [picked, setPicked] = useState<ReadonlyArray<string>>([])
  const load = () =>
    Promise.all([Api.runs(), Api.live()]).then(
      ([r, l]) => {
        setRuns(r)
        setLive(l)
      },
      (e: Error) => setError(e.message)
    )
  // A run that starts or ends anywhere shows here without a reload.
  useChanges((change) => (change._tag !== "Progress" ? void load() : undefined), () => void load(), [])
  if (error !== undefined) return <p class="error">{error}</p>
  if (runs === undefined) return <p class="muted">loading runs…</p>
  const shown = status === "all" || status === "running" ? live : []
  const finished = status === "running" ? [] : runs.filter((r) => status === "all" || r.status === status)
  const toggle = (id: string) => setPicked(picked.includes(id) ? picked.filter((p) => p !== id) : [...picked, id])
  const ids = picked.map(encodeURIComponent).join(",")
  return (
    <section>
      <h1>Runs</h1>
      <div class="toolbar">
        <label>
          status{" "}
          <select value={status} onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value as typeof status)} data-filter="status">
            {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <a class={`button${picked.length === 0 ? " disabled" : ""}`} href={`#/metrics?runs=${ids}`}>chart metrics of picked</a>
        <a class={`button${picked.length < 2 ? " disabled" : ""}`} href={`#/compare?runs=${ids}`} data-action="compare">compare picked</a>
        <span class="muted">{runs.length} recorded{live.length > 0 ? `, ${live.length} in progress` : ""}</span>
      </div>
      {shown.length + finished.length === 0 ? <p class="muted">no runs{status !== "all" ? ` with status ${status}` : ""} yet: run <code>expops run DIR</code></p> : (
        <table class="runs">
          <thead>
            <tr>
              <th />
              <th>run</th><th>status</th><th>started</th><th>duration</th><th>seed</th><th>backend</th><th>processes</th><th>steps</th><th>time saved</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.id} data-run={r.id} data-status={r.alive ? "running" : "abandoned"}>
                <td />
                <td><a href={`#/run/${encodeURIComponent(r.id)}`}>{r.id}</a></td>
                <td><span class={`badge status-${r.alive ? "running" : "abandoned"}`}>{r.alive ? "running" : "abandoned"}</span></td>
                <td>{Format.time(r.startedAt)}</td>
                <td>-</td>
                <td>{r.seed}</td>
                <td>{r.backend}</td>
                <td>{r.processes.length} planned</td>
                <td />
                <td />
              </tr>
            ))}
            {finished.map((r) => (
              <tr key={r.id} data-run={r.id} data-status={r.status}>
                <td><input type="checkbox" aria-label={`pick ${r.id}`} data-pick={r.id} checked={picked.includes(r.id)} onChange={() => toggle(r.id)} /></td>
                <td><a href={`#/run/${encodeURIComponent(r.id)}`}>{r.id}</a></td>
                <td><span class={`badge status-${r.status}`}>{r.status}</span></td>
                <td>{Format.time(r.startedAt)}</td>
                <td>{Format.duration(r.durationMs)}</td>
                <td>{r.seed}</td>
                <td>{r.backend}</td>
                <td>{Format.counts(r.processes)}</td>
                <td>{Format.counts(r.steps)}</td>
                <td>{Format.duration(r.savedMs ?? 0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
