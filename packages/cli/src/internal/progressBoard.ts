/**
 * What the progress of a run shows, as plain state and text: the rows of
 * the processes (a fan-out's branches as one line under their base), fed
 * by core's run events, drawn as the lines of a terminal display or as the
 * plain line of each finished process. No `effect` here: `Progress` runs
 * it inside the run's effects, and the replay of a cached run (answered
 * before `effect` loads) draws the same lines.
 */
import type { RunEvents } from "@expops/core"
import * as Ansi from "./ansi.ts"
import { waited } from "./report.ts"
import * as Format from "../Format.ts"

export interface Options {
  /** Process names in the order they are shown. */
  readonly processes: ReadonlyArray<string>
  /** For a fan-out branch, the process it is a copy of: branches are shown together under it. */
  readonly baseOf?: ((name: string) => string | undefined) | undefined
  readonly color: boolean
}

export interface Board {
  /** Counts a step event in its process's row (shown by the next frame). */
  readonly onStep: (event: RunEvents.RunEvent) => void
  /** Applies a process event at `now`; answers the plain text to write when it finished a line, else `undefined`. */
  readonly onProcess: (event: RunEvents.RunEvent, now: number) => string | undefined
  /** The lines of the display at `now`, each cut to `columns` (0: no limit), the spinner at `frame`. */
  readonly frame: (now: number, columns: number, frame: number) => ReadonlyArray<string>
}

type State =
  | { readonly tag: "pending" }
  | { readonly tag: "checking" }
  | { readonly tag: "running"; readonly since: number }
  | { readonly tag: "waiting"; readonly since: number }
  | { readonly tag: "cached"; readonly durationMs: number; readonly waitedMs: number | undefined }
  | { readonly tag: "executed"; readonly durationMs: number; readonly waitedMs: number | undefined }
  | { readonly tag: "failed"; readonly durationMs: number; readonly error: string; readonly location: string | undefined }
  | { readonly tag: "skipped" }
  | { readonly tag: "interrupted"; readonly durationMs: number }

interface Row {
  state: State
  step: string | undefined
  readonly steps: Record<string, number>
  /** The branches' line this row is counted in, if it is a branch. */
  readonly group: Group | undefined
  /** Cluster runs: the runner that ran it. */
  runner?: string | undefined
}

/** Cluster runs: which runner ran a process. */
const onRunner = (row: Row, p: Ansi.Paint): string => (row.runner !== undefined ? p.dim(`  on ${row.runner}`) : "")

/** The first line of an error, and where in the user's code it was raised. */
const failure = (s: { readonly error: string; readonly location: string | undefined }): string =>
  `${s.error.split("\n")[0]}${s.location !== undefined ? ` (${s.location})` : ""}`

/** The branches of one process, shown as one line. */
interface Group {
  readonly base: string
  readonly rows: Array<Row>
  /** When the first branch started running, and the last one finished (on the Clock). */
  startedAt: number | undefined
  finishedAt: number | undefined
}

const finished = (state: State): boolean =>
  state.tag === "cached" || state.tag === "executed" || state.tag === "failed" || state.tag === "skipped" || state.tag === "interrupted"

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

export const make = (options: Options): Board => {
  const p = Ansi.paint(options.color)
  const rows = new Map<string, Row>()
  // What is drawn, in order: a process's row, or the line of a process's branches.
  const lines: Array<readonly [name: string, Row | Group]> = []
  const groups = new Map<string, Group>()
  for (const name of options.processes) {
    const base = options.baseOf?.(name)
    let group = base !== undefined ? groups.get(base) : undefined
    if (base !== undefined && group === undefined) {
      group = { base, rows: [], startedAt: undefined, finishedAt: undefined }
      groups.set(base, group)
      lines.push([base, group])
    }
    const row: Row = { state: { tag: "pending" }, step: undefined, steps: {}, group }
    rows.set(name, row)
    if (group !== undefined) group.rows.push(row)
    else lines.push([name, row])
  }
  const width = Math.max(...lines.map(([n]) => n.length), 4)
  let frame = 0

  const stepSummary = (row: Row) => {
    const text = Format.counts(row.steps)
    return text === "none" ? "" : `steps: ${text}`
  }

  const describe = (row: Row, now: number): string => {
    const s = row.state
    switch (s.tag) {
      case "pending":
        return p.dim("·  pending")
      case "checking":
        return p.dim("…  checking the cache")
      case "running": {
        const elapsed = `${((now - s.since) / 1000).toFixed(1)} s`
        const step = row.step !== undefined ? p.dim(`  step ${row.step}`) : ""
        return `${p.cyan(SPINNER[frame % SPINNER.length]!)}  running ${elapsed}${step}`
      }
      case "waiting":
        return `${p.cyan(SPINNER[frame % SPINNER.length]!)}  waiting on another run computing it ${((now - s.since) / 1000).toFixed(1)} s`
      case "cached":
        return `${p.green("✓  cached")}${p.dim(`  ${s.waitedMs !== undefined ? `${waited(s.waitedMs)}, ` : ""}served in ${Format.duration(s.durationMs)}`)}`
      case "executed":
        return `${p.green("✓  executed")} ${Format.duration(s.durationMs)}${p.dim(stepSummary(row) ? `  ${stepSummary(row)}` : "")}${
          s.waitedMs !== undefined ? p.dim(`  (${waited(s.waitedMs)})`) : ""
        }${onRunner(row, p)}`
      case "failed":
        return `${p.red("✗  failed")} ${Format.duration(s.durationMs)}  ${failure(s)}`
      case "skipped":
        return p.yellow("-  skipped (an upstream process did not succeed)")
      case "interrupted":
        return p.yellow(`■  interrupted after ${Format.duration(s.durationMs)}`)
    }
  }

  const countStates = (group: Group) => {
    const byTag: Record<string, number> = {}
    for (const row of group.rows) byTag[row.state.tag] = (byTag[row.state.tag] ?? 0) + 1
    return byTag
  }

  /** `2 executed, 1 cached` over the branches that finished. */
  const finishedCounts = (byTag: Record<string, number>) =>
    Format.counts({
      executed: byTag.executed ?? 0,
      cached: byTag.cached ?? 0,
      failed: byTag.failed ?? 0,
      skipped: byTag.skipped ?? 0,
      interrupted: byTag.interrupted ?? 0
    })

  const firstFailure = (group: Group): string => {
    const index = group.rows.findIndex((r) => r.state.tag === "failed")
    const state = group.rows[index]?.state
    return state?.tag === "failed" ? `${branchNames.get(group)![index]}: ${failure(state)}` : ""
  }

  const describeGroup = (group: Group, now: number): string => {
    const n = group.rows.length
    const byTag = countStates(group)
    const done = group.rows.filter((r) => finished(r.state)).length
    if (done === n) {
      const took = Format.duration((group.finishedAt ?? now) - (group.startedAt ?? group.finishedAt ?? now))
      if (byTag.failed) return `${p.red("✗")}  ${n} branches: ${finishedCounts(byTag)}  ${firstFailure(group)}`
      if (byTag.interrupted) return p.yellow(`■  ${n} branches: ${finishedCounts(byTag)}`)
      if (byTag.skipped) return p.yellow(`-  ${n} branches: ${finishedCounts(byTag)} (an upstream process did not succeed)`)
      return `${p.green("✓")}  ${n} branches: ${finishedCounts(byTag)}${p.dim(`  in ${took}`)}`
    }
    if (byTag.running || byTag.waiting || done > 0) {
      const elapsed = group.startedAt !== undefined ? `  ${((now - group.startedAt) / 1000).toFixed(1)} s` : ""
      const parts = [
        byTag.running ? `${byTag.running} running` : "",
        byTag.waiting ? `${byTag.waiting} waiting on other runs` : "",
        done > 0 ? finishedCounts(byTag) : "",
        byTag.pending || byTag.checking ? `${(byTag.pending ?? 0) + (byTag.checking ?? 0)} to go` : ""
      ].filter((x) => x !== "")
      return `${p.cyan(SPINNER[frame % SPINNER.length]!)}  ${n} branches: ${parts.join(", ")}${p.dim(elapsed)}`
    }
    if (byTag.checking) return p.dim(`…  ${n} branches: checking the cache`)
    return p.dim(`·  pending (${n} branches)`)
  }

  // Branch names by group, in order, for naming a failed one.
  const branchNames = new Map<Group, Array<string>>()
  for (const [name, row] of rows) {
    if (row.group === undefined) continue
    const names = branchNames.get(row.group)
    if (names === undefined) branchNames.set(row.group, [name])
    else names.push(name)
  }

  const line = (name: string, entry: Row | Group, now: number, columns: number) => {
    const text = `  ${name.padEnd(width)}  ${"base" in entry ? describeGroup(entry, now) : describe(entry, now)}`
    // A wrapped line would break the cursor arithmetic of the redraw.
    return columns > 0 && Format.visibleLength(text) >= columns ? text.replace(/\x1b\[[0-9;]*m/g, "").slice(0, columns - 1) : text
  }

  const plainLine = (name: string, row: Row): string => {
    const s = row.state
    const status = s.tag === "cached"
      ? `cached (${s.waitedMs !== undefined ? `${waited(s.waitedMs)}, ` : ""}served in ${Format.duration(s.durationMs)})`
      : s.tag === "executed"
      ? `executed in ${Format.duration(s.durationMs)}${stepSummary(row) ? ` (${stepSummary(row)})` : ""}${
        s.waitedMs !== undefined ? ` after it ${waited(s.waitedMs)}` : ""
      }${row.runner !== undefined ? ` on ${row.runner}` : ""}`
      : s.tag === "failed"
      ? `failed after ${Format.duration(s.durationMs)}: ${failure(s)}`
      : s.tag === "interrupted"
      ? `interrupted after ${Format.duration(s.durationMs)}`
      : s.tag
    return `${name}: ${status}\n`
  }

  /** The plain line of a process's branches, once the last one finished; failures named under it. */
  const plainGroup = (group: Group): string => {
    const byTag = countStates(group)
    const took = Format.duration((group.finishedAt ?? 0) - (group.startedAt ?? group.finishedAt ?? 0))
    let text = `${group.base}: ${group.rows.length} branches, ${finishedCounts(byTag)}${byTag.executed || byTag.cached ? ` in ${took}` : ""}\n`
    group.rows.forEach((row, i) => {
      if (row.state.tag === "failed") {
        text += `  ${branchNames.get(group)![i]}: failed after ${Format.duration(row.state.durationMs)}: ${failure(row.state)}\n`
      }
    })
    return text
  }

  const onStep = (event: RunEvents.RunEvent) => {
    const row = rows.get(event.process)
    if (row === undefined) return
    if (event.phase === "start") row.step = event.step
    const done = event.phase === "hit" ? "cached" : event.phase === "store" ? "executed" : event.phase === "fail" ? "failed" : undefined
    if (done !== undefined) row.steps[done] = (row.steps[done] ?? 0) + 1
  }

  /** Applies a process event; answers the row when the process finished. */
  const onProcess = (event: RunEvents.RunEvent, now: number): Row | undefined => {
    const row = rows.get(event.process)
    if (row === undefined) return undefined
    const durationMs = event.durationMs ?? 0
    if (event.runner !== undefined) row.runner = event.runner
    switch (event.phase) {
      case "start":
        row.state = { tag: "checking" }
        if (row.group !== undefined) row.group.startedAt ??= now
        return undefined
      case "miss":
        row.state = { tag: "running", since: now }
        return undefined
      case "wait":
        row.state = { tag: "waiting", since: now }
        return undefined
      case "hit":
        row.state = { tag: "cached", durationMs, waitedMs: event.waitedMs }
        break
      case "store":
        row.state = { tag: "executed", durationMs, waitedMs: event.waitedMs }
        break
      case "fail":
        row.state = { tag: "failed", durationMs, error: event.error ?? "failed", location: event.location }
        break
      case "skip":
        row.state = { tag: "skipped" }
        break
      case "interrupt":
        row.state = { tag: "interrupted", durationMs }
        break
    }
    row.step = undefined
    const group = row.group
    if (group !== undefined) {
      group.startedAt = Math.min(group.startedAt ?? now, now - durationMs)
      group.finishedAt = Math.max(group.finishedAt ?? now, now)
    }
    return row
  }

  return {
    onStep,
    onProcess: (event, now) => {
      const done = onProcess(event, now)
      if (done === undefined) return undefined
      if (done.group === undefined) return plainLine(event.process, done)
      // A branch: the line comes when its last sibling is done.
      return done.group.rows.every((r) => finished(r.state)) ? plainGroup(done.group) : undefined
    },
    frame: (now, columns, at) => {
      frame = at
      return lines.map(([name, entry]) => line(name, entry, now, columns))
    }
  }
}
