/**
 * How run events become spans (`Tracing.make`), with a tracer that keeps
 * its spans: the cases a quick-start run does not reach.
 */
import { assert, describe, it } from "@effect/vitest"
import type { RunEvents, RunReport } from "@expops/core"
import { Effect, Exit, Fiber, Tracer } from "effect"
import * as Tracing from "../src/Tracing.ts"

const recording = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

const report = (status: RunReport.RunReport["run"]["status"], processes: RunReport.RunReport["processes"]): RunReport.RunReport => ({
  run: { id: "R", pipeline: "p", status, seed: 1, backend: "memory", startedAt: 0, durationMs: 5 },
  processes
})

const attributes = (span: Tracer.NativeSpan) => Object.fromEntries(span.attributes)
const named = (spans: ReadonlyArray<Tracer.NativeSpan>, name: string) => spans.filter((s) => s.name === name)

describe("Tracing.make", () => {
  it.effect("identical concurrent step calls get a span each; a skipped process a span of its own; a split failing after the store leaves the span as it was", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const tracing = yield* Tracing.make(tracer, { pipeline: "p", backend: "memory", seed: 1 })
      const emit = (event: RunEvents.RunEvent) => tracing.listener(event)
      const run = Effect.gen(function*() {
        yield* emit({ kind: "process", phase: "start", process: "a", key: "ka" })
        yield* emit({ kind: "step", phase: "start", process: "a", step: "s", key: "k1" })
        yield* emit({ kind: "step", phase: "start", process: "a", step: "s", key: "k1" })
        yield* emit({ kind: "step", phase: "miss", process: "a", step: "s", key: "k1" })
        yield* emit({ kind: "step", phase: "store", process: "a", step: "s", key: "k1", durationMs: 3, bytesWritten: 10 })
        yield* emit({ kind: "step", phase: "hit", process: "a", step: "s", key: "k1", durationMs: 3, savedMs: 3, bytesRead: 0 })
        yield* emit({ kind: "process", phase: "store", process: "a", key: "ka", durationMs: 4, bytesWritten: 30 })
        yield* emit({ kind: "process", phase: "fail", process: "a", key: "ka", error: "cannot split output rows" })
        yield* emit({ kind: "process", phase: "skip", process: "b" })
        return report("failed", [
          { name: "a", status: "failed", key: "ka", durationMs: 4, steps: [] },
          { name: "b", status: "skipped", key: "", durationMs: 0, steps: [] }
        ])
      })
      yield* tracing.run(run, () => undefined)

      const [root] = named(spans, "run p")
      const [a] = named(spans, "process a")
      const calls = named(spans, "step s")
      assert.strictEqual(named(spans, "process a").length, 1)
      assert.strictEqual(calls.length, 2)
      assert.deepStrictEqual(calls.map((s) => attributes(s)["expops.status"]), ["executed", "cached"])
      for (const call of calls) assert.strictEqual(call.parent._tag === "Some" && call.parent.value, a)
      assert.strictEqual(attributes(a!)["expops.status"], "executed")
      assert.strictEqual(attributes(a!)["expops.bytes_written"], 30)
      const [b] = named(spans, "process b")
      assert.strictEqual(attributes(b!)["expops.status"], "skipped")
      assert.strictEqual(b!.parent._tag === "Some" && b!.parent.value, root)
      assert.strictEqual(root!.status._tag, "Ended")
      assert.isTrue(root!.status._tag === "Ended" && Exit.isFailure(root!.status.exit))
      assert.strictEqual(attributes(root!)["expops.processes.failed"], 1)
      assert.deepStrictEqual(root!.events.map(([name, , attributes]) => [name, attributes]), [
        ["expops.process.failed", { "expops.process": "a", "expops.error": "cannot split output rows" }]
      ])
    }))

  it.effect("a step called under another span (an enclosing step's, the user's) is its child; a body runs under its own span", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const tracing = yield* Tracing.make(tracer, { pipeline: "p", backend: "memory", seed: 1 })
      const outer: RunEvents.RunEvent = { kind: "step", phase: "start", process: "a", step: "outer", key: "ko" }
      yield* tracing.run(
        Effect.gen(function*() {
          yield* tracing.listener({ kind: "process", phase: "start", process: "a", key: "ka" })
          yield* tracing.listener(outer)
          // What core's RunEvents.within does around the outer step's body.
          yield* Effect.withParentSpan(tracing.listener({ kind: "step", phase: "start", process: "a", step: "inner", key: "ki" }), tracing.spanOf(outer)!)
          yield* tracing.listener({ kind: "step", phase: "start", process: "a", step: "direct", key: "kd" })
          return report("success", [])
        }),
        () => undefined
      )
      const [a] = named(spans, "process a")
      const [outerSpan] = named(spans, "step outer")
      const parentOf = (name: string) => {
        const span = named(spans, name)[0]!
        return span.parent._tag === "Some" ? span.parent.value : undefined
      }
      assert.strictEqual(parentOf("step inner"), outerSpan)
      assert.strictEqual(parentOf("step outer"), a)
      assert.strictEqual(parentOf("step direct"), a)
      assert.strictEqual(tracing.spanOf({ kind: "process", phase: "start", process: "a", key: "ka" }), undefined, "ended with the run")
    }))

  it.effect("an interrupted run ends the spans still open as interrupted, and its span carries what the partial report says", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const tracing = yield* Tracing.make(tracer, { pipeline: "p", backend: "memory", seed: 1 })
      const partial = report("interrupted", [{ name: "a", status: "interrupted", key: "ka", durationMs: 9, steps: [] }])
      const fiber = yield* tracing.run(
        Effect.andThen(
          Effect.all([
            tracing.listener({ kind: "process", phase: "start", process: "a", key: "ka" }),
            tracing.listener({ kind: "step", phase: "start", process: "a", step: "wait", key: "kw" })
          ]),
          Effect.never
        ),
        () => partial
      ).pipe(Effect.forkChild)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      for (const span of spans) assert.strictEqual(span.status._tag, "Ended", span.name)
      const [wait] = named(spans, "step wait")
      assert.isTrue(wait!.status._tag === "Ended" && Exit.isFailure(wait!.status.exit))
      const [root] = named(spans, "run p")
      assert.include(attributes(root!), { "expops.run.id": "R", "expops.status": "interrupted" })
    }))
})
