import { assert, describe, it } from "@effect/vitest"
import { Progress } from "@expops/cli"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { layerCapture } from "./helpers.ts"

/** What progress writes to stdout (as on a terminal 100 columns wide), and the layer it writes through. */
const capture = () => {
  const out = { stdout: [] as Array<string>, stderr: [] as Array<string> }
  return { layer: layerCapture(out, { terminal: true }), text: () => out.stdout.join(""), writes: () => out.stdout.length }
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

/** The lines of the last frame drawn, control codes removed. */
const lastFrame = (written: string, lines: number) =>
  written.slice(written.lastIndexOf(`\x1b[${lines}A`)).split("\n").map((l) => l.replace(/\r\x1b\[2K|\x1b\[[0-9;?]*[A-Za-z]/g, ""))

describe("Progress", () => {
  it.effect("a process waiting on another run says so, then how long it waited", () => {
    const { layer, text } = capture()
    return Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out: "stdout", live: true, color: false, processes: ["train", "report"] })
        yield* progress.listener({ kind: "process", phase: "start", process: "train" })
        yield* progress.listener({ kind: "process", phase: "wait", process: "train" })
        yield* TestClock.adjust(1_500)
        assert.match(lastFrame(text(), 2)[0]!, /^ {2}train +\S {2}waiting on another run computing it 1\.5 s$/)
        yield* progress.listener({ kind: "process", phase: "hit", process: "train", durationMs: 1_510, waitedMs: 1_500 })
        yield* progress.listener({ kind: "process", phase: "start", process: "report" })
        yield* progress.listener({ kind: "process", phase: "wait", process: "report" })
        yield* progress.listener({ kind: "process", phase: "store", process: "report", durationMs: 900, waitedMs: 300 })
      }))
      const last = lastFrame(text(), 2)
      assert.match(last[0]!, /^ {2}train +✓ {2}cached {2}waited 1\.50 s on another run, served in 1\.51 s$/)
      assert.match(last[1]!, /^ {2}report +✓ {2}executed 900 ms {2}\(waited 300 ms on another run\)$/)
    }).pipe(Effect.provide(layer))
  })

  it.effect("elsewhere, a process that waited: its line says how long", () => {
    const { layer, text } = capture()
    return Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out: "stdout", live: false, color: false, processes: ["train"] })
        yield* progress.listener({ kind: "process", phase: "wait", process: "train" })
        yield* progress.listener({ kind: "process", phase: "hit", process: "train", durationMs: 1_510, waitedMs: 1_500 })
      }))
      assert.strictEqual(text(), "train: cached (waited 1.50 s on another run, served in 1.51 s)\n")
    }).pipe(Effect.provide(layer))
  })

  it.effect("on a terminal: one line per process, redrawn in place, cursor restored", () => {
    const { layer, text } = capture()
    return Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out: "stdout", live: true, color: false, processes: ["load", "train", "report"] })
        yield* events(progress.listener)
      }))
      const written = text()
      assert.include(written, "\x1b[?25l")
      assert.isTrue(written.endsWith("\x1b[?25h"))
      assert.include(written, "\x1b[3A", "moves up over its three lines to redraw them")
      const last = lastFrame(written, 3)
      assert.match(last[0]!, /^ {2}load +✓ {2}cached {2}served in 2 ms$/)
      assert.match(last[1]!, /^ {2}train +✗ {2}failed 45 ms {2}boom$/)
      assert.match(last[2]!, /^ {2}report +- {2}skipped/)
      assert.match(written, /pending/)
    }).pipe(Effect.provide(layer))
  })

  it.effect("elsewhere: one plain line per finished process, no control codes", () => {
    const { layer, text } = capture()
    return Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out: "stdout", live: false, color: false, processes: ["load", "train", "report"] })
        yield* events(progress.listener)
      }))
      assert.deepStrictEqual(text().split("\n"), [
        "load: cached (served in 2 ms)",
        "train: failed after 45 ms: boom",
        "report: skipped",
        ""
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("cluster runs: an executed process says which runner ran it, live and plain", () => {
    const cluster = [
      { kind: "process", phase: "start", process: "train" },
      { kind: "process", phase: "miss", process: "train" },
      { kind: "process", phase: "store", process: "train", durationMs: 45, runner: "10.0.0.5:34431" }
    ] as const
    const plain = capture()
    const live = capture()
    return Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out: "stdout", live: false, color: false, processes: ["train"] })
        yield* Effect.forEach(cluster, progress.listener, { discard: true })
      })).pipe(Effect.provide(plain.layer))
      assert.deepStrictEqual(plain.text().split("\n"), ["train: executed in 45 ms on 10.0.0.5:34431", ""])
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out: "stdout", live: true, color: false, processes: ["train"] })
        yield* Effect.forEach(cluster, progress.listener, { discard: true })
      })).pipe(Effect.provide(live.layer))
      assert.match(lastFrame(live.text(), 1).join("\n"), /train .*executed 45 ms +on 10\.0\.0\.5:34431/)
    })
  })

  it.effect("a failure shows where in the user's code it was raised; an interrupted process says so", () => {
    const { layer, text } = capture()
    return Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out: "stdout", live: false, color: false, processes: ["train", "report"] })
        yield* progress.listener({ kind: "process", phase: "fail", process: "train", durationMs: 5, error: "TypeError: boom", location: "src/train.ts:95:12" })
        yield* progress.listener({ kind: "process", phase: "start", process: "report" })
        yield* progress.listener({ kind: "process", phase: "interrupt", process: "report", durationMs: 1200 })
      }))
      assert.deepStrictEqual(text().split("\n"), [
        "train: failed after 5 ms: TypeError: boom (src/train.ts:95:12)",
        "report: interrupted after 1.20 s",
        ""
      ])
    }).pipe(Effect.provide(layer))
  })

  it.effect("colours only when asked", () =>
    Effect.gen(function*() {
      const plain = capture()
      const colored = capture()
      for (const [s, color] of [[plain, false], [colored, true]] as const) {
        yield* Effect.scoped(Effect.gen(function*() {
          const progress = yield* Progress.make({ out: "stdout", live: true, color, processes: ["load"] })
          yield* progress.listener({ kind: "process", phase: "hit", process: "load", durationMs: 1 })
        })).pipe(Effect.provide(s.layer))
      }
      assert.notMatch(plain.text(), /\x1b\[3\d?m/)
      assert.match(colored.text(), /\x1b\[32m/)
    }))

  it.effect("a running process shows its elapsed time and a spinner, redrawn ten times a second on the Clock, until the scope closes", () => {
    const { layer, text, writes } = capture()
    return Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const progress = yield* Progress.make({ out: "stdout", live: true, color: false, processes: ["train"] })
        yield* progress.listener({ kind: "process", phase: "start", process: "train" })
        yield* progress.listener({ kind: "process", phase: "miss", process: "train" })
        yield* progress.listener({ kind: "step", phase: "start", process: "train", step: "fit" })
        yield* Effect.never
      })))
      yield* TestClock.adjust("99 millis")
      assert.match(lastFrame(text(), 1)[0]!, /^ {2}train +⠋ {2}running 0\.0 s$/, "no redraw before the first tick")
      yield* TestClock.adjust("1401 millis")
      assert.match(lastFrame(text(), 1)[0]!, /^ {2}train +⠴ {2}running 1\.5 s {2}step fit$/, "15 ticks: the spinner moved 15 frames")
      yield* Fiber.interrupt(fiber)
      assert.isTrue(text().endsWith("\x1b[?25h"), "cursor restored")
      const after = writes()
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(writes(), after, "no redraw after the scope closed")
    }).pipe(Effect.provide(layer))
  })

  describe("fan-out branches", () => {
    const processes = ["prepare", "train_seed1", "train_seed2", "train_seed3"]
    const baseOf = (name: string) => (name.startsWith("train_") ? "train" : undefined)
    const branchEvents = (listener: Progress.Progress["listener"]) =>
      Effect.forEach([
        { kind: "process", phase: "start", process: "prepare" },
        { kind: "process", phase: "hit", process: "prepare", durationMs: 1 },
        { kind: "process", phase: "start", process: "train_seed1", base: "train" },
        { kind: "process", phase: "hit", process: "train_seed1", base: "train", durationMs: 2 },
        { kind: "process", phase: "start", process: "train_seed2", base: "train" },
        { kind: "process", phase: "miss", process: "train_seed2", base: "train" },
        { kind: "process", phase: "store", process: "train_seed2", base: "train", durationMs: 30 },
        { kind: "process", phase: "start", process: "train_seed3", base: "train" },
        { kind: "process", phase: "miss", process: "train_seed3", base: "train" },
        { kind: "process", phase: "fail", process: "train_seed3", base: "train", durationMs: 5, error: "diverged\nat epoch 3" }
      ] as const, listener, { discard: true })

    it.effect("on a terminal: one line for a process's branches, counting them", () => {
      const { layer, text } = capture()
      return Effect.gen(function*() {
        let running = ""
        yield* Effect.scoped(Effect.gen(function*() {
          const progress = yield* Progress.make({ out: "stdout", live: true, color: false, processes, baseOf })
          yield* Effect.forEach(
            [{ kind: "process", phase: "start", process: "train_seed1" }, { kind: "process", phase: "miss", process: "train_seed1" }] as const,
            progress.listener,
            { discard: true }
          )
          running = lastFrame(text(), 2)[1]!
          yield* branchEvents(progress.listener)
        }))
        assert.match(running, /^ {2}train +⠋ {2}3 branches: 1 running, 2 to go/)
        const last = lastFrame(text(), 2)
        assert.match(last[0]!, /^ {2}prepare +✓ {2}cached/)
        assert.match(last[1]!, /^ {2}train +✗ {2}3 branches: 1 executed, 1 cached, 1 failed {2}train_seed3: diverged$/)
      }).pipe(Effect.provide(layer))
    })

    it.effect("elsewhere: one line when the last branch finishes, failures named under it", () => {
      const { layer, text } = capture()
      return Effect.gen(function*() {
        yield* Effect.scoped(Effect.gen(function*() {
          const progress = yield* Progress.make({ out: "stdout", live: false, color: false, processes, baseOf })
          yield* branchEvents(progress.listener)
        }))
        assert.deepStrictEqual(text().split("\n"), [
          "prepare: cached (served in 1 ms)",
          "train: 3 branches, 1 executed, 1 cached, 1 failed in 30 ms",
          "  train_seed3: failed after 5 ms: diverged",
          ""
        ])
      }).pipe(Effect.provide(layer))
    })
  })
})
