/** The server's API, typed by core's own types (erased from the bundle). */
import type { CacheAdmin, Metrics, RunEvents, RunReport, RunStore } from "@expops/core"

export type Report = RunReport.RunReport
export type ProcessReport = RunReport.ProcessReport
export type StepReport = RunReport.StepReport
export type Summary = RunStore.RunSummary
export type LiveRun = RunStore.LiveRun & { readonly alive: boolean }
export type Change = RunStore.Change
export type RunEvent = RunEvents.RunEvent
export type TimedEvent = RunStore.TimedEvent
export type Metric = Metrics.Metric
export type Entry = CacheAdmin.EntrySummary

export interface RunView {
  readonly graph: RunStore.LiveRun | null
  readonly alive: boolean
  readonly events: ReadonlyArray<TimedEvent>
  readonly seq: number
  readonly report: Report | null
}

export interface Explained {
  readonly text: string
  readonly explanation: { readonly summary: string; readonly changes: ReadonlyArray<{ readonly part: string; readonly message: string }> }
}

export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

export const get = async <A>(path: string): Promise<A> => {
  const response = await fetch(path, { headers: { accept: "application/json" } })
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }))
  if (!response.ok) throw new ApiError(response.status, (body as { error?: string }).error ?? response.statusText)
  return body as A
}

export const runs = () => get<ReadonlyArray<Summary>>("/api/runs")
export const live = () => get<ReadonlyArray<LiveRun>>("/api/live")
export const report = (id: string) => get<Report>(`/api/runs/${encodeURIComponent(id)}`)
export const view = (id: string) => get<RunView>(`/api/runs/${encodeURIComponent(id)}/live`)
export const explain = (id: string, target: string) =>
  get<ReadonlyArray<Explained>>(`/api/runs/${encodeURIComponent(id)}/explain?target=${encodeURIComponent(target)}`)
export const cache = () => get<ReadonlyArray<Entry>>("/api/cache")
export const entry = (key: string) => get<Explained>(`/api/cache/${encodeURIComponent(key)}`)
