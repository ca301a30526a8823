/**
 * Live progress of a run, fed by core's run events.
 *
 * On a terminal: one line per process, redrawn in place (pending, checking,
 * running with elapsed time and current step, waiting on another run
 * computing the same key, cached, executed, failed, skipped). Elsewhere: one plain line per finished process, no control codes.
 * The branches of a fan-out (`train_model_seed41`, ...) are one line under
 * their base name, counting the branches in each state; elsewhere one line
 * when the last of them finishes.
 *
 * Output goes through the `Stdio` service and the width comes from the
 * `Terminal` service; elapsed times and the redraw timer run on the `Clock`,
 * so tests drive them with `TestClock`.
 *
 * @since 0.1.0
 */
import type { RunEvents } from "@expops/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stdio from "effect/Stdio"
import * as Terminal from "effect/Terminal"
import * as Ansi from "./internal/ansi.ts"
import * as Output from "./internal/output.ts"
import * as Board from "./internal/progressBoard.ts"

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
  /** For a fan-out branch, the process it is a copy of: branches are shown together under it. */
  readonly baseOf?: ((name: string) => string | undefined) | undefined
}

/**
 * @since 0.1.0
 */
export interface Progress {
  readonly listener: (event: RunEvents.RunEvent) => Effect.Effect<void>
}

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
    const { live } = options
    const write = yield* Output.writer(options.out)
    const terminal = yield* Terminal.Terminal
    const board = Board.make(options)
    let frame = 0
    let drawn = 0

    const redraw = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const columns = yield* terminal.columns
      let text = Ansi.cursorUp(drawn)
      const lines = board.frame(now, columns, frame)
      for (const line of lines) text += `${Ansi.clearLine}${line}\n`
      drawn = lines.length
      yield* write(text)
    })

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
          ? Effect.sync(() => board.onStep(event))
          // Process changes show at once.
          : Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const text = board.onProcess(event, now)
            if (live) return redraw
            return text === undefined ? Effect.void : write(text)
          })
    } satisfies Progress
  })
