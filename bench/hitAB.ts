/**
 * The cached-step hit of this checkout against another build of ExpOps, side
 * by side in one process: both builds are loaded at once, each fills its own
 * local store (and in-memory store) with 1 KiB entries, then blocks of 50
 * hits on random entries alternate between them, so both are measured in the
 * same conditions of a noisy machine. For checking that a change does not
 * slow the hit path. The local store is written through one backend and
 * read through another opened after it closed, as a run reads what the run
 * before it wrote.
 *
 *   npx node bench/hitAB.ts --base DIR [--entries 20000] [--samples 20000]
 *
 * DIR is another checkout with its `dist/` built (`npx tsc -b
 * tsconfig.build.json`) whose `node_modules` is this checkout's, so both
 * builds share one `effect`. For example, for the last commit:
 *
 *   mkdir /tmp/base && git archive HEAD | tar -x -C /tmp/base
 *   mkdir /tmp/base/node_modules && for f in node_modules/* node_modules/.bin; do
 *     [ "$f" = node_modules/@expops ] || ln -s "$PWD/$f" /tmp/base/node_modules/; done
 *   cp -a node_modules/@expops /tmp/base/node_modules/ && (cd /tmp/base && npx tsc -b tsconfig.build.json)
 *
 * Works in `bench/.work/hitAB/`, removed at the end.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { median, option, round } from "./harness.ts"

const base = option("--base")
if (base === undefined) {
  process.stderr.write("usage: npx node bench/hitAB.ts --base DIR [--entries N] [--samples N]\n")
  process.exit(2)
}
const entries = Number(option("--entries") ?? 20_000)
const samples = Number(option("--samples") ?? 20_000)
const BLOCK = 50
const work = path.join(import.meta.dirname, ".work", "hitAB")

const load = async (name: string, checkout: string) => {
  const from = (pkg: string) => import(pathToFileURL(path.join(checkout, "packages", pkg, "dist", "index.js")).href)
  const core = await from("core")
  const local = await from("backend-local")
  const step = core.Step.make({
    name: "payload",
    input: Schema.Int,
    output: Schema.Struct({ id: Schema.Int, text: Schema.String }),
    run: (id: number) => Effect.succeed({ id, text: `${id}:`.padEnd(1000, "abcdefghij") })
  })
  const dir = path.join(work, name)
  fs.mkdirSync(dir, { recursive: true })
  const over = (store: Layer.Layer<any, any>) =>
    ManagedRuntime.make(Layer.provideMerge(core.Cache.layer(), Layer.merge(store, core.Reproducibility.layer(1))) as Layer.Layer<any, any>)
  const localLayer = () => over(local.LocalBackend.layer(dir, { fsync: false }))
  const stores = { local: localLayer(), memory: over(core.CacheStore.layerMemory) }
  for (const runtime of Object.values(stores)) {
    await runtime.runPromise(Effect.gen(function*() {
      for (let i = 0; i < entries; i++) yield* step(i)
    }))
  }
  // Hits are read as the next run reads them: through a backend opened after the one that wrote them closed.
  await stores.local.dispose()
  stores.local = localLayer()
  // The size of a stored manifest: what each hit reads and verifies.
  // (A store that packs keeps a few in files of their own: those left since its last packing.)
  const manifests = path.join(dir, ".expops", "cache", "manifests")
  const file = fs.readdirSync(manifests, { recursive: true, withFileTypes: true }).find((f) => f.isFile() && !f.name.includes("."))
  const manifestBytes = file === undefined ? undefined : fs.statSync(path.join(file.parentPath, file.name)).size
  return { name, step, stores, manifestBytes, times: { local: [] as Array<number>, memory: [] as Array<number> } }
}

fs.rmSync(work, { recursive: true, force: true })
try {
  const sides = [await load("base", path.resolve(base)), await load("this", path.resolve(import.meta.dirname, ".."))]
  await new Promise((resolve) => setTimeout(resolve, 1500)) // let the index write the new rows
  for (let block = 0; block < samples / BLOCK; block++) {
    for (let k = 0; k < sides.length; k++) {
      const side = sides[(block + k) % sides.length]!
      for (const store of ["local", "memory"] as const) {
        await side.stores[store].runPromise(Effect.gen(function*() {
          for (let i = 0; i < BLOCK; i++) {
            const id = Math.floor(Math.random() * entries)
            const start = performance.now()
            yield* side.step(id)
            side.times[store].push((performance.now() - start) * 1000)
          }
        }))
      }
    }
  }
  const result = Object.fromEntries(
    sides.map((s) => [s.name, { local: round(median(s.times.local)), memory: round(median(s.times.memory)), manifestBytes: s.manifestBytes }])
  )
  console.log(JSON.stringify({ unit: "us (median hit)", entries, samples, ...result }, null, 2))
  for (const side of sides) for (const runtime of Object.values(side.stores)) await runtime.dispose()
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
