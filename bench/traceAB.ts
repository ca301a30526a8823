/**
 * What tracing costs off the cached-step hit path, side by side with another
 * build (as `bench/hitAB.ts`, whose header says how to make DIR): both builds
 * loaded at once, rounds alternating between them.
 *
 *   npx node bench/traceAB.ts --base DIR
 *
 * - `draws`: one step body drawing 200,000 numbers from `Random` (each draw
 *   goes through the body's tracing `Random`, each operation through its
 *   tracer hook);
 * - `nestedMisses`: a process computing 2,000 small steps (a trace per body);
 * - `nestedHits`: a process whose 2,000 steps are all served (each lookup run
 *   outside the process's trace, each step's trace absorbed into it);
 * - this build only: the hit of a step whose entry read one file (a `stat`
 *   per hit) against one that read none, on the in-memory store.
 *
 * Works in `bench/.work/traceAB/`, removed at the end.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { Effect, Layer, ManagedRuntime, Random, Schema } from "effect"
import { median, option, round } from "./harness.ts"

const base = option("--base")
if (base === undefined) {
  process.stderr.write("usage: npx node bench/traceAB.ts --base DIR\n")
  process.exit(2)
}
const ROUNDS = 10
const work = path.join(import.meta.dirname, ".work", "traceAB")

const load = async (checkout: string) => {
  const core = await import(pathToFileURL(path.join(checkout, "packages", "core", "dist", "index.js")).href)
  const draws = core.Step.make({
    name: "draws",
    input: Schema.Int,
    output: Schema.Finite,
    run: function*(n: number) {
      let sum = 0
      for (let i = 0; i < n; i++) sum += yield* Random.next
      return sum
    }
  })
  const tiny = core.Step.make({ name: "tiny", input: Schema.Int, output: Schema.Int, run: (n: number) => Effect.succeed(n + 1) })
  const many = core.Process.make({
    name: "many",
    version: "1",
    captures: { tiny },
    parameters: { n: Schema.Int, salt: Schema.Int, shared: Schema.Boolean },
    outputs: { total: Schema.Int },
    run: function*(_: unknown, { n, salt, shared }: { n: number; salt: number; shared: boolean }) {
      let total = 0
      for (let i = 0; i < n; i++) total += yield* tiny(shared ? i : i * 1000 + salt)
      return { total }
    }
  })
  const pipeline = core.Pipeline.make({ name: "trace-bench", processes: [many] })
  const memory = () => ManagedRuntime.make(Layer.merge(core.Cache.layerMemory(), core.Reproducibility.layer(1)) as Layer.Layer<any>)
  return { core, draws, pipeline, memory, off: ManagedRuntime.make(Layer.merge(core.Cache.layerMemory({ mode: "off" }), core.Reproducibility.layer(1)) as Layer.Layer<any>) }
}

const time = async (run: () => Promise<unknown>) => {
  const start = performance.now()
  await run()
  return performance.now() - start
}

fs.rmSync(work, { recursive: true, force: true })
fs.mkdirSync(work, { recursive: true })
try {
  const sides = { base: await load(path.resolve(base)), this: await load(path.resolve(import.meta.dirname, "..")) }
  const results: Record<string, Record<string, Array<number>>> = { base: { draws: [], nestedMisses: [], nestedHits: [] }, this: { draws: [], nestedMisses: [], nestedHits: [] } }
  let salt = 0
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 === 0 ? ["base", "this"] as const : ["this", "base"] as const) {
      const side = sides[name]
      results[name]!.draws!.push(await time(() => side.off.runPromise(side.draws(200_000))))
      const runtime = side.memory()
      const run = (shared: boolean) => runtime.runPromise(side.core.Pipeline.run(side.pipeline, { parameters: { many: { n: 2000, salt: ++salt, shared } } }))
      results[name]!.nestedMisses!.push(await time(() => run(false)))
      await run(true)
      results[name]!.nestedHits!.push(await time(() => run(true)))
      await runtime.dispose()
    }
  }

  // A hit of an entry that read a file: one stat of that file, its digest known by its signature.
  const file = path.join(work, "table.json")
  fs.writeFileSync(file, "{}".padEnd(4096))
  const old = new Date(Date.now() - 60_000)
  fs.utimesSync(file, old, old)
  const { core } = sides.this
  const plain = core.Step.make({ name: "plain", input: Schema.Int, output: Schema.Int, run: (n: number) => Effect.succeed(n) })
  const reads = core.Step.make({
    name: "reads",
    input: Schema.Int,
    output: Schema.Int,
    run: (n: number) => Effect.sync(() => n + fs.readFileSync(file, "utf8").length * 0)
  })
  const runtime = sides.this.memory()
  await runtime.runPromise(Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) yield* Effect.andThen(plain(i), reads(i))
  }))
  const hits: Record<string, Array<number>> = { none: [], oneFile: [] }
  for (let round = 0; round < 20; round++) {
    for (const [name, step] of [["none", plain], ["oneFile", reads]] as const) {
      await runtime.runPromise(Effect.gen(function*() {
        for (let i = 0; i < 2000; i++) {
          const start = performance.now()
          yield* step(i)
          hits[name]!.push((performance.now() - start) * 1000)
        }
      }))
    }
  }
  await runtime.dispose()
  const ms = (xs: Array<number>) => round(median(xs))
  console.log(JSON.stringify({
    unit: "ms (median of rounds); hits in us",
    base: Object.fromEntries(Object.entries(results.base!).map(([k, v]) => [k, ms(v)])),
    this: Object.fromEntries(Object.entries(results.this!).map(([k, v]) => [k, ms(v)])),
    hitWithTracedFiles: { none: ms(hits.none!), oneFile: ms(hits.oneFile!) }
  }, null, 2))
  for (const side of Object.values(sides)) await side.off.dispose()
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
