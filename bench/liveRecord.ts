/**
 * What recording a run live (for `expops ui`) costs, on the project's SQLite
 * file (backend-local's `RunStore.live`), beside what a run records anyway:
 *
 * - begin: the run's graph (4 processes), once per run;
 * - append: one batch of 50 events (what `expops run` writes every 150 ms
 *   while the quick start trains: a few dozen events in all), per event;
 * - saveRun: recording the finished report (done with or without live), for scale;
 * - poll: the UI's read of the changes after its cursor when there is none
 *   new (every 200 ms while `expops ui` serves).
 *
 * Run: `npx node bench/liveRecord.ts` after `npx tsc -b tsconfig.build.json`.
 * Works in `bench/.work/live/`, removed at the end.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import type { RunReport } from "@expops/core"
import { RunStore } from "@expops/core"
import { SqliteRunStore } from "@expops/backend-local"
import { Context, Effect, Layer } from "effect"
import { median, round } from "./harness.ts"

const dir = path.join(import.meta.dirname, ".work/live")
fs.rmSync(dir, { recursive: true, force: true })
const ROUNDS = 200

const processes = ["load_data", "prepare", "train_model", "evaluate"]
const report = (id: string): RunReport.RunReport => ({
  run: { id, pipeline: "quickstart", status: "success", seed: 42, backend: "local", startedAt: Date.now(), durationMs: 900 },
  processes: processes.map((name) => ({
    name,
    status: "executed",
    key: "a".repeat(64),
    durationMs: 200,
    steps: [1, 2, 3].map((i) => ({ name: `step${i}`, status: "executed", key: "b".repeat(64), durationMs: 60 }))
  })),
  metrics: Array.from({ length: 50 }, (_, i) => ({ name: "loss", value: 1 / (i + 1), index: i + 1, process: "train_model", step: "fit" }))
})

const program = Effect.gen(function*() {
  const store = Context.get(yield* Layer.build(SqliteRunStore.layerProject(dir)), RunStore.RunStore)
  const live = store.live!
  const time = (f: () => Effect.Effect<unknown, unknown>) =>
    Effect.gen(function*() {
      const samples: Array<number> = []
      for (let i = 0; i < ROUNDS; i++) {
        const t = performance.now()
        yield* f()
        samples.push((performance.now() - t) * 1000)
      }
      return median(samples)
    })
  let n = 0
  const events = Array.from({ length: 50 }, (_, i) => ({
    at: Date.now(),
    event: { kind: "step" as const, phase: "store" as const, process: "train_model", step: `step${i % 3}`, key: "b".repeat(64), durationMs: 60 }
  }))
  const begin = yield* time(() => live.begin({ id: `run-${n++}`, pipeline: "quickstart", startedAt: Date.now(), seed: 42, backend: "local", processes: processes.map((name, i) => ({ name, upstream: i === 0 ? [] : [processes[i - 1]!] })) }))
  const append = (yield* time(() => live.append(`run-${n - 1}`, events))) / events.length
  const save = yield* time(() => store.saveRun(report(`run-${n++}`)))
  const cursor = yield* live.cursor
  const poll = yield* time(() => live.changes(cursor))
  return { begin, appendPerEvent: append, saveRun: save, pollNothingNew: poll }
}).pipe(Effect.scoped)

const result = await Effect.runPromise(program)
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({ unit: "us (median)", rounds: ROUNDS, ...Object.fromEntries(Object.entries(result).map(([k, v]) => [k, round(v, 1)])) }, null, 2))
