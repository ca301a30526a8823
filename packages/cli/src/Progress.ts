/**
 * Live progress of a run, fed by core's run events.
 *
 * On a terminal: one line per process, redrawn in place (pending, checking,
 * running with elapsed time and current step, cached, executed, failed,
 * skipped). Elsewhere: one plain line per finished process, no control codes.
 *
 * @since 0.1.0
 */
import type { RunEvents } from "@expops/core"
import { Effect } from "effect"
import * as Ansi from "./internal/ansi.ts"
import * as Format from "./Format.ts"

/**
 * @since 0.1.0
 */
export interface Options {
  /** Where progress is written (stdout, or stderr with `--json`). */
  readonly out: NodeJS.WriteStream
  /** Redraw lines in place (the output is a terminal). */
  readonly live: boolean
  readonly color: boolean
  /** Process names in the order they are shown. */
  readonly processes: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 */
export interface Progress {
  readonly listener: (event: RunEvents.RunEvent) => Effect.Effect<void>
}

type State =
  | { readonly tag: "pending" }
  | { readonly tag: "checking" }
  | { readonly tag: "running"; readonly since: number }
  | { readonly tag: "cached"; readonly durationMs: number }
  | { readonly tag: "executed"; readonly durationMs: number }
  | { readonly tag: "failed"; readonly durationMs: number; readonly error: string }
  | { readonly tag: "skipped" }

interface Row {
  state: State
  step: string | undefined
  readonly steps: Record<string, number>
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/**
 * Starts showing progress; stops (final redraw, cursor restored) when the
 * scope closes.
 *
 * @since 0.1.0
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const { color, live, out } = options
    const p = Ansi.paint(color)
    const rows = new Map<string, Row>(options.processes.map((name) => [name, { state: { tag: "pending" }, step: undefined, steps: {} }]))
    const width = Math.max(...options.processes.map((n) => n.length), 4)
    let frame = 0
    let drawn = 0

    const stepSummary = (row: Row) => {
      const text = Format.counts(row.steps)
      return text === "none" ? "" : `steps: ${text}`
    }

    const describe = (row: Row): string => {
      const s = row.state
      switch (s.tag) {
        case "pending":
          return p.dim("·  pending")
        case "checking":
          return p.dim("…  checking the cache")
        case "running": {
          const elapsed = `${((performance.now() - s.since) / 1000).toFixed(1)} s`
          const step = row.step !== undefined ? p.dim(`  step ${row.step}`) : ""
          return `${p.cyan(SPINNER[frame % SPINNER.length]!)}  running ${elapsed}${step}`
        }
        case "cached":
          return `${p.green("✓  cached")}${p.dim(`  served in ${Format.duration(s.durationMs)}`)}`
        case "executed":
          return `${p.green("✓  executed")} ${Format.duration(s.durationMs)}${p.dim(stepSummary(row) ? `  ${stepSummary(row)}` : "")}`
        case "failed":
          return `${p.red("✗  failed")} ${Format.duration(s.durationMs)}  ${s.error.split("\n")[0]}`
        case "skipped":
          return p.yellow("-  skipped (an upstream process did not succeed)")
      }
    }

    const line = (name: string, row: Row) => {
      const text = `  ${name.padEnd(width)}  ${describe(row)}`
      const columns = out.columns ?? 0
      // A wrapped line would break the cursor arithmetic of the redraw.
      return columns > 0 && Format.visibleLength(text) >= columns ? text.replace(/\x1b\[[0-9;]*m/g, "").slice(0, columns - 1) : text
    }

    const redraw = () => {
      let text = Ansi.cursorUp(drawn)
      for (const [name, row] of rows) text += `${Ansi.clearLine}${line(name, row)}\n`
      drawn = rows.size
      out.write(text)
    }

    const plainLine = (name: string, row: Row) => {
      const s = row.state
      const status = s.tag === "cached"
        ? `cached (served in ${Format.duration(s.durationMs)})`
        : s.tag === "executed"
        ? `executed in ${Format.duration(s.durationMs)}${stepSummary(row) ? ` (${stepSummary(row)})` : ""}`
        : s.tag === "failed"
        ? `failed after ${Format.duration(s.durationMs)}: ${s.error.split("\n")[0]}`
        : s.tag
      out.write(`${name}: ${status}\n`)
    }

    const update = (event: RunEvents.RunEvent) => {
      const row = rows.get(event.process)
      if (row === undefined) return
      if (event.kind === "step") {
        if (event.phase === "start") row.step = event.step
        const done = event.phase === "hit" ? "cached" : event.phase === "store" ? "executed" : event.phase === "fail" ? "failed" : undefined
        if (done !== undefined) row.steps[done] = (row.steps[done] ?? 0) + 1
        return
      }
      const durationMs = event.durationMs ?? 0
      switch (event.phase) {
        case "start":
          row.state = { tag: "checking" }
          return
        case "miss":
          row.state = { tag: "running", since: performance.now() }
          return
        case "hit":
          row.state = { tag: "cached", durationMs }
          break
        case "store":
          row.state = { tag: "executed", durationMs }
          break
        case "fail":
          row.state = { tag: "failed", durationMs, error: event.error ?? "failed" }
          break
        case "skip":
          row.state = { tag: "skipped" }
          break
      }
      row.step = undefined
      if (!live) plainLine(event.process, row)
    }

    if (live) {
      out.write(Ansi.hideCursor)
      redraw()
      const timer = setInterval(() => {
        frame++
        redraw()
      }, 100)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          clearInterval(timer)
          redraw()
          out.write(Ansi.showCursor)
        })
      )
    }

    return {
      listener: (event) =>
        Effect.sync(() => {
          update(event)
          // Step events can be many; the timer redraws them. Process changes show at once.
          if (live && event.kind === "process") redraw()
        })
    } satisfies Progress
  })
