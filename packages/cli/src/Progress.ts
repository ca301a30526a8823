/**
 * Live progress of a run, fed by core's run events.
 *
 * On a terminal: one line per process, redrawn in place (pending, checking,
 * running with elapsed time and current step, cached, executed, failed,
 * skipped). Elsewhere: one plain line per finished process, no control codes.
 *
 * Output goes through the `Stdio` service and the width comes from the
 * `Terminal` service; elapsed times and the redraw timer run on the `Clock`,
 * so tests drive them with `TestClock`.
 *
 * @since 0.1.0
 */
import type { RunEvents } from "@expops/core"
import { Clock, Effect, Schedule, type Scope, type Stdio, Terminal } from "effect"
import * as Ansi from "./internal/ansi.ts"
import * as Output from "./internal/output.ts"
import * as Format from "./Format.ts"

/**
 * @since 0.1.0
 */
export interface Options {
  /** Where progress is written (stdout, or stderr with `--json`). */
  readonly out: "stdout" | "stderr"
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
  | { readonly tag: "failed"; readonly durationMs: number; readonly error: string; readonly location: string | undefined }
  | { readonly tag: "skipped" }
  | { readonly tag: "interrupted"; readonly durationMs: number }

interface Row {
  state: State
  step: string | undefined
  readonly steps: Record<string, number>
}

/** The first line of an error, and where in the user's code it was raised. */
const failure = (s: { readonly error: string; readonly location: string | undefined }): string =>
  `${s.error.split("\n")[0]}${s.location !== undefined ? ` (${s.location})` : ""}`

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

/** How often a live display redraws (the spinner and the elapsed times move). */
const REDRAW_EVERY = "100 millis"

/**
 * Starts showing progress; stops (final redraw, cursor restored) when the
 * scope closes.
 *
 * @since 0.1.0
 */
export const make: (options: Options) => Effect.Effect<Progress, never, Scope.Scope | Stdio.Stdio | Terminal.Terminal> =
  Effect.fnUntraced(function*(options: Options) {
    const { color, live } = options
    const write = yield* Output.writer(options.out)
    const terminal = yield* Terminal.Terminal
    const p = Ansi.paint(color)
    const rows = new Map<string, Row>(options.processes.map((name) => [name, { state: { tag: "pending" }, step: undefined, steps: {} }]))
    const width = Math.max(...options.processes.map((n) => n.length), 4)
    let frame = 0
    let drawn = 0

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
        case "cached":
          return `${p.green("✓  cached")}${p.dim(`  served in ${Format.duration(s.durationMs)}`)}`
        case "executed":
          return `${p.green("✓  executed")} ${Format.duration(s.durationMs)}${p.dim(stepSummary(row) ? `  ${stepSummary(row)}` : "")}`
        case "failed":
          return `${p.red("✗  failed")} ${Format.duration(s.durationMs)}  ${failure(s)}`
        case "skipped":
          return p.yellow("-  skipped (an upstream process did not succeed)")
        case "interrupted":
          return p.yellow(`■  interrupted after ${Format.duration(s.durationMs)}`)
      }
    }

    const line = (name: string, row: Row, now: number, columns: number) => {
      const text = `  ${name.padEnd(width)}  ${describe(row, now)}`
      // A wrapped line would break the cursor arithmetic of the redraw.
      return columns > 0 && Format.visibleLength(text) >= columns ? text.replace(/\x1b\[[0-9;]*m/g, "").slice(0, columns - 1) : text
    }

    const redraw = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const columns = yield* terminal.columns
      let text = Ansi.cursorUp(drawn)
      for (const [name, row] of rows) text += `${Ansi.clearLine}${line(name, row, now, columns)}\n`
      drawn = rows.size
      yield* write(text)
    })

    const plainLine = (name: string, row: Row) => {
      const s = row.state
      const status = s.tag === "cached"
        ? `cached (served in ${Format.duration(s.durationMs)})`
        : s.tag === "executed"
        ? `executed in ${Format.duration(s.durationMs)}${stepSummary(row) ? ` (${stepSummary(row)})` : ""}`
        : s.tag === "failed"
        ? `failed after ${Format.duration(s.durationMs)}: ${failure(s)}`
        : s.tag === "interrupted"
        ? `interrupted after ${Format.duration(s.durationMs)}`
        : s.tag
      return write(`${name}: ${status}\n`)
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
      switch (event.phase) {
        case "start":
          row.state = { tag: "checking" }
          return undefined
        case "miss":
          row.state = { tag: "running", since: now }
          return undefined
        case "hit":
          row.state = { tag: "cached", durationMs }
          break
        case "store":
          row.state = { tag: "executed", durationMs }
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
      return row
    }

    if (live) {
      yield* write(Ansi.hideCursor)
      yield* redraw
      // Added before the redraw fiber is forked, so it runs after that fiber is interrupted.
      yield* Effect.addFinalizer(() => Effect.andThen(redraw, write(Ansi.showCursor)))
      // A fiber on the Clock, not a timer: it stops with the scope, and TestClock drives it.
      yield* Effect.sync(() => frame++).pipe(
        Effect.andThen(redraw),
        Effect.schedule(Schedule.spaced(REDRAW_EVERY)),
        Effect.forkScoped
      )
    }

    return {
      listener: (event) =>
        event.kind === "step"
          // Step events can be many: counted here, shown by the next redraw.
          ? Effect.sync(() => onStep(event))
          // Process changes show at once.
          : Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const finished = onProcess(event, now)
            return live ? redraw : finished !== undefined ? plainLine(event.process, finished) : Effect.void
          })
    } satisfies Progress
  })
