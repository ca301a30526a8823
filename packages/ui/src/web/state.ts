/**
 * A run's nodes as a page shows them: from its report once it is recorded,
 * else from the graph it began with and the events seen so far.
 */
import type { ProcessReport, RunEvent, RunView, StepReport } from "./api.ts"

export type Status = ProcessReport["status"] | "pending" | "running"

export interface StepState {
  readonly name: string
  status: StepReport["status"] | "running"
  key: string
  durationMs: number | undefined
  error?: string | undefined
  location?: string | undefined
}

export interface NodeState {
  readonly name: string
  readonly base: string | undefined
  readonly upstream: ReadonlyArray<string>
  status: Status
  key: string
  durationMs: number | undefined
  /** When it started, while it runs (the runner's clock): for the time it has been running. */
  startedAt?: number | undefined
  savedMs?: number | undefined
  steps: Array<StepState>
  error?: string | undefined
  location?: string | undefined
  parameters?: unknown
  report?: ProcessReport | undefined
}

/** The nodes of a run (in plan order) and its edges `[from, to]`. */
export const nodesOf = (view: RunView): Array<NodeState> => {
  const upstreamOf = new Map((view.graph?.processes ?? []).map((p) => [p.name, p.upstream]))
  if (view.report !== null) {
    return view.report.processes.map((p) => ({
      name: p.name,
      base: p.base,
      upstream: upstreamOf.get(p.name) ?? p.upstream ?? [],
      status: p.status,
      key: p.key,
      durationMs: p.durationMs,
      savedMs: p.savedMs,
      steps: p.steps.map((s) => ({ ...s })),
      error: p.error,
      location: p.location,
      parameters: p.parameters,
      report: p
    }))
  }
  const nodes = (view.graph?.processes ?? []).map((p): NodeState => ({
    name: p.name,
    base: p.base,
    upstream: p.upstream,
    status: "pending",
    key: "",
    durationMs: undefined,
    steps: []
  }))
  for (const { at, event } of view.events) apply(nodes, event, at)
  return nodes
}

const processStatus: Record<RunEvent["phase"], Status> = {
  start: "running",
  miss: "running",
  // Another run holds the key's lease and computes it; this one waits for the entry.
  wait: "running",
  hit: "cached",
  store: "executed",
  fail: "failed",
  skip: "skipped",
  interrupt: "interrupted"
}

/** Folds one event, which happened at `at`, into the nodes (in place). */
export const apply = (nodes: Array<NodeState>, event: RunEvent, at: number): void => {
  const node = nodes.find((n) => n.name === event.process)
  if (node === undefined) return
  if (event.kind === "process") {
    if (event.phase === "start") node.startedAt = at
    node.status = processStatus[event.phase]
    if (event.key !== undefined) node.key = event.key
    if (event.durationMs !== undefined) node.durationMs = event.durationMs
    if (event.error !== undefined) node.error = event.error
    if (event.location !== undefined) node.location = event.location
    return
  }
  if (event.step === undefined) return
  let step = node.steps.findLast((s) => s.name === event.step && s.status === "running")
  if (step === undefined || event.phase === "start") {
    step = { name: event.step, status: "running", key: event.key ?? "", durationMs: undefined }
    node.steps.push(step)
  }
  if (event.phase === "hit") step.status = "cached"
  if (event.phase === "store") step.status = "executed"
  if (event.phase === "fail") step.status = "failed"
  if (event.key !== undefined) step.key = event.key
  if (event.durationMs !== undefined) step.durationMs = event.durationMs
  if (event.error !== undefined) step.error = event.error
  if (event.location !== undefined) step.location = event.location
}
