import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Progress } from "@expops/cli"

/** A stand-in for a terminal or a pipe that records what is written. */
const stream = (isTTY: boolean) => {
  const chunks: Array<string> = []
  const out = { isTTY, columns: 100, write: (text: string) => chunks.push(text) > 0 } as unknown as NodeJS.WriteStream
  return { out, text: () => chunks.join("") }
}

const events = (listener: Progress.Progress["listener"]) =>
  Effect.forEach([
    { kind: "process", phase: "start", process: "load" },
    { kind: "process", phase: "hit", process: "load", durationMs: 2 },
    { kind: "process", phase: "start", process: "train" },
    { kind: "process", phase: "miss", process: "train" },
    { kind: "step", phase: "start", process: "train", step: "fit" },
    { kind: "step", phase: "store", process: "train", step: "fit", durationMs: 40 },
    { kind: "step", phase: "start", process: "train", step: "score" },
    { kind: "step", phase: "fail", process: "train", step: "score", error: "boom" },
    { kind: "process", phase: "fail", process: "train", durationMs: 45, error: "boom\nat line 2" },
    { kind: "process", phase: "skip", process: "report" }
  ] as const, listener, { discard: true })

describe("Progress", () => {
  it.effect("on a terminal: one line per process, redrawn in place, cursor restored", () =>
    Effect.gen(function*() {
      const { out, text } = stream(true)
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out, live: true, color: false, processes: ["load", "train", "report"] })
        yield* events(progress.listener)
      }))
      const written = text()
      assert.include(written, "\x1b[?25l")
      assert.isTrue(written.endsWith("\x1b[?25h"))
      assert.include(written, "\x1b[3A", "moves up over its three lines to redraw them")
      const last = written.slice(written.lastIndexOf("\x1b[3A")).split("\n").map((l) => l.replace(/\r\x1b\[2K|\x1b\[[0-9;?]*[A-Za-z]/g, ""))
      assert.match(last[0]!, /^ {2}load +✓ {2}cached {2}served in 2 ms$/)
      assert.match(last[1]!, /^ {2}train +✗ {2}failed 45 ms {2}boom$/)
      assert.match(last[2]!, /^ {2}report +- {2}skipped/)
      assert.match(written, /pending/)
    }))

  it.effect("elsewhere: one plain line per finished process, no control codes", () =>
    Effect.gen(function*() {
      const { out, text } = stream(false)
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out, live: false, color: false, processes: ["load", "train", "report"] })
        yield* events(progress.listener)
      }))
      assert.deepStrictEqual(text().split("\n"), [
        "load: cached (served in 2 ms)",
        "train: failed after 45 ms: boom",
        "report: skipped",
        ""
      ])
    }))

  it.effect("colours only when asked", () =>
    Effect.gen(function*() {
      const plain = stream(true)
      const colored = stream(true)
      for (const [s, color] of [[plain, false], [colored, true]] as const) {
        yield* Effect.scoped(Effect.gen(function*() {
          const progress = yield* Progress.make({ out: s.out, live: true, color, processes: ["load"] })
          yield* progress.listener({ kind: "process", phase: "hit", process: "load", durationMs: 1 })
        }))
      }
      assert.notMatch(plain.text(), /\x1b\[3\d?m/)
      assert.match(colored.text(), /\x1b\[32m/)
    }))
})
