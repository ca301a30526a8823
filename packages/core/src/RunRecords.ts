/**
 * Plain functions over run reports, with no `effect` import: the CLI's
 * replay of a cached run (`expops run` answered before `effect` loads)
 * records runs with them, as the run stores do.
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import type { RunReport } from "./RunReport.ts"

/**
 * One line of `expops runs ls`.
 *
 * @since 0.1.0
 */
export interface RunSummary {
  readonly id: string
  readonly pipeline: string
  readonly status: "success" | "failed" | "interrupted"
  readonly startedAt: number
  readonly durationMs: number
  readonly seed: number
  readonly backend: string
  /** Processes and steps by status. */
  readonly processes: Readonly<Record<string, number>>
  readonly steps: Readonly<Record<string, number>>
  /** Time the cache saved: what the processes served from it took to compute. */
  readonly savedMs: number
}

/**
 * Counts the processes and steps of a report by status.
 *
 * @since 0.1.0
 */
export const summarize = (report: RunReport): RunSummary => {
  const processes: Record<string, number> = {}
  const steps: Record<string, number> = {}
  let savedMs = 0
  for (const p of report.processes) {
    savedMs += p.savedMs ?? 0
    processes[p.status] = (processes[p.status] ?? 0) + 1
    for (const s of p.steps) steps[s.status] = (steps[s.status] ?? 0) + 1
  }
  const { backend, durationMs, id, pipeline, seed, startedAt, status } = report.run
  return { id, pipeline, status, startedAt, durationMs, seed, backend, processes, steps, savedMs }
}

/**
 * A new run id, sortable by time and unique by a random suffix:
 * `20261126T233204Z-3fa9c1`. A caller that records a run as it goes makes
 * it first and passes it as `runId`.
 *
 * @since 0.1.0
 */
export const makeRunId = (startedAt: number): string =>
  `${new Date(startedAt).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`
