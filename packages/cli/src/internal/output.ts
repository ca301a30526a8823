/**
 * What standard output and standard error can show, and raw writes to them,
 * through the `Stdio` service (never `process.stdout`), so that a command
 * run in-process writes wherever its caller provides.
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Ansi from "./ansi.ts"

/** Standard output or standard error. */
export type Name = "stdout" | "stderr"

const environment = Config.all({
  noColor: Config.option(Config.String("NO_COLOR")),
  term: Config.option(Config.String("TERM"))
})

export type Capabilities = Ansi.Capabilities

export const capabilities = Effect.fnUntraced(function*(stream: Name) {
  const stdio = yield* Stdio.Stdio
  const isTerminal = yield* (stream === "stdout" ? stdio.stdoutIsTerminal : stdio.stderrIsTerminal)
  const env = yield* Effect.orDie(environment)
  return Ansi.capabilities(isTerminal, { NO_COLOR: Option.getOrUndefined(env.noColor), TERM: Option.getOrUndefined(env.term) })
})

/** Colours for text written to `stream`, or none when it cannot show them. */
export const paint = (stream: Name): Effect.Effect<Ansi.Paint, never, Stdio.Stdio> =>
  Effect.map(capabilities(stream), ({ color }) => Ansi.paint(color))

/**
 * Writes text as it is (no line break added: progress redraws move the
 * cursor). Best effort: a display that can no longer be written to must not
 * fail the work it shows.
 */
export const writer = Effect.fnUntraced(function*(stream: Name) {
  const stdio = yield* Stdio.Stdio
  return (text: string): Effect.Effect<void> =>
    Stream.run(Stream.succeed(text), stream === "stdout" ? stdio.stdout() : stdio.stderr()).pipe(Effect.ignore)
})

