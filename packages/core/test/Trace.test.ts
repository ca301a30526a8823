import * as fs from "node:fs"
import * as os from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Layer } from "effect"
import { Cache, CacheStore, Pipeline, Reproducibility, type RunReport, Trace } from "@expops/core"
import { TestLayers } from "@expops/core/testing"
import { awaitsThenCalls, readers, readViaService, resetRuns, runs, scratchPipeline, seeded } from "./fixtures/Traced.ts"

// Node's own, taken before any run wraps it: a FileSystem built on it is seen only through the service.
const nodeReadFileSync = fs.readFileSync

const statuses = (report: RunReport.RunReport) => Object.fromEntries(report.processes.map((p) => [p.name, p.status]))
const steps = (report: RunReport.RunReport, process: string) =>
  report.processes.find((p) => p.name === process)!.steps.map((s) => `${s.name}=${s.status}`)

const withFiles = <A, E, R>(use: (dir: string) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => fs.mkdtempSync(Path.join(os.tmpdir(), "expops-trace-"))),
    use,
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/** Sets a file's mtime into the past, as if written long ago: its digest may then be cached by signature. */
const age = (file: string, seconds: number) => fs.utimesSync(file, new Date(Date.now() - seconds * 1000), new Date(Date.now() - seconds * 1000))

describe("Trace", () => {
  it.effect("a file read by a process body: edited re-runs it, touched hits, deleted fails it; other processes stay cached", () =>
    withFiles((dir) =>
      Effect.gen(function*() {
        resetRuns()
        const file = (name: string) => Path.join(dir, name)
        // Each reader and the file it reads: sync, promise (after an await), callback, stream, FileSystem in a step.
        const readers_ = { read_sync: "sync.json", read_promise: "promise.json", read_callback: "callback.json", read_stream: "stream.json", read_service: "service.json" }
        const all = (overrides: Record<string, string>, otherwise = "cached") =>
          Object.fromEntries([...Object.keys(readers_), "constant"].map((name) => [name, overrides[name] ?? otherwise]))
        for (const name of Object.values(readers_)) {
          fs.writeFileSync(file(name), `{"v":1}`)
          age(file(name), 60)
        }
        const parameters = Object.fromEntries(Object.entries(readers_).map(([process, name]) => [process, { file: file(name) }]))
        const run = Pipeline.run(readers, { parameters })
        assert.deepStrictEqual(statuses(yield* run), all({}, "executed"))
        assert.deepStrictEqual(statuses(yield* run), all({}))

        // Edited: each reader re-runs, alone.
        for (const [process, name] of Object.entries(readers_)) {
          fs.writeFileSync(file(name), `{"v":2}`)
          assert.deepStrictEqual(statuses(yield* run), all({ [process]: "executed" }), `after editing ${name}`)
        }
        // The step that read through FileSystem re-ran too, not only its process.
        assert.strictEqual(runs["step:read_with_service"], 2)
        const before = { ...runs }

        // Touched, content unchanged: a new mtime, the same digest, hits.
        for (const name of Object.values(readers_)) age(file(name), 30)
        assert.deepStrictEqual(statuses(yield* run), all({}))
        assert.deepStrictEqual(runs, before)

        // Back to the first content: the first entries hold again.
        fs.writeFileSync(file("sync.json"), `{"v":1}`)
        assert.strictEqual(statuses(yield* run).read_sync, "cached")

        // Deleted: the body runs and its failure is reported; the others stay cached.
        fs.rmSync(file("sync.json"))
        fs.rmSync(file("service.json"))
        const failed = yield* run
        assert.deepStrictEqual(statuses(failed), all({ read_sync: "failed", read_service: "failed" }))
        assert.match(failed.processes.find((p) => p.name === "read_sync")!.error!, /ENOENT/)
        assert.strictEqual(runs["read_sync"], before["read_sync"]! + 1)
      })
    ).pipe(Effect.provide(TestLayers.layer())))

  it.effect("reads through the FileSystem service are traced by the service itself (whatever implements it)", () =>
    withFiles((dir) =>
      Effect.gen(function*() {
        resetRuns()
        const file = Path.join(dir, "via.txt")
        fs.writeFileSync(file, "one")
        const fileSystem = FileSystem.layerNoop({ readFileString: (path) => Effect.sync(() => nodeReadFileSync(path, "utf8")) })
        const pipeline = Pipeline.make({ name: "via", processes: [readViaService], layer: fileSystem })
        const run = Pipeline.run(pipeline, { parameters: { read_via_service: { file } } })
        assert.strictEqual(statuses(yield* run).read_via_service, "executed")
        assert.strictEqual(statuses(yield* run).read_via_service, "cached")
        fs.writeFileSync(file, "two")
        assert.strictEqual(statuses(yield* run).read_via_service, "executed")
        assert.strictEqual(runs["read_via_service"], 2)
      })
    ).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a trace's digests are cached by file signature: a changed file is hashed again, even with its mtime put back", () =>
    withFiles((dir) =>
      Effect.gen(function*() {
        Trace.clearDigests()
        const file = Path.join(dir, "table.txt")
        const when = new Date(Date.now() - 60_000)
        fs.writeFileSync(file, "aaaa")
        fs.utimesSync(file, when, when)
        const trace = { files: [{ path: file, digest: "61be55a8e2f6b4e172338bddf184d6dbee29c98853e0a0485ecee7f27b9af0b4" }], random: false, seed: 1 }
        assert.isTrue((yield* Trace.check(trace, 1)).holds)
        // Same size, the old mtime put back (as `cp -p` or `touch -d` do): the kernel's ctime moved, so it is hashed again.
        fs.writeFileSync(file, "bbbb")
        fs.utimesSync(file, when, when)
        const check = yield* Trace.check(trace, 1)
        assert.isFalse(check.holds)
        assert.deepStrictEqual(check.changedFiles.map((f) => f.path), [file])
        // Drawn with another seed: holds only for its own.
        const drew = { files: [], random: true, seed: 5 }
        assert.isTrue((yield* Trace.check(drew, 5)).holds)
        assert.isTrue((yield* Trace.check(drew, 6)).seedChanged)
        Trace.clearDigests()
      })
    ))

  it.effect("a file the body writes and then reads back is its output, not a dependency", () =>
    withFiles((dir) =>
      Effect.gen(function*() {
        resetRuns()
        const file = Path.join(dir, "scratch.txt")
        const run = Pipeline.run(scratchPipeline, { parameters: { scratch: { file } } })
        assert.strictEqual(statuses(yield* run).scratch, "executed")
        const store = yield* CacheStore.CacheStore
        fs.rmSync(file)
        const second = yield* run
        assert.strictEqual(statuses(second).scratch, "cached")
        const manifest = yield* store.getManifest(second.processes[0]!.key)
        assert.deepStrictEqual(manifest._tag === "Some" ? manifest.value.trace?.files : undefined, [])
        assert.strictEqual(runs["scratch"], 1)
      })
    ).pipe(Effect.provide(TestLayers.layer())))

  it.effect("what a store does for a step a body calls (files it reads, Math.random it draws, in callbacks) is not the body's", () =>
    withFiles((dir) =>
      Effect.gen(function*() {
        const sentinel = Path.join(dir, "store-internal.bin")
        fs.writeFileSync(sentinel, "x")
        const memory = CacheStore.makeMemory()
        // A store that, like a network client, reads a file and draws a jitter in a promise continuation.
        const busy: CacheStore.Shape = {
          ...memory,
          getManifest: (key) =>
            Effect.andThen(
              Effect.promise(async () => {
                await new Promise((resolve) => setTimeout(resolve, 1))
                fs.readFileSync(sentinel)
                return Math.random()
              }),
              memory.getManifest(key)
            )
        }
        const layer = Layer.provideMerge(Cache.layer(), Layer.merge(Layer.succeed(CacheStore.CacheStore, busy), Reproducibility.layer(42)))
        const report = yield* Pipeline.run(Pipeline.make({ name: "busy", processes: [awaitsThenCalls] }), {}).pipe(Effect.provide(layer))
        const manifest = yield* memory.getManifest(report.processes[0]!.key)
        assert.deepStrictEqual(manifest._tag === "Some" ? manifest.value.trace : undefined, { files: [], random: false, seed: manifest._tag === "Some" ? manifest.value.recipe.seed : -1 })
      })
    ))

  it.effect("the trace is stored relative to the project and the digest is the content's", () =>
    withFiles((dir) =>
      Effect.gen(function*() {
        resetRuns()
        fs.writeFileSync(Path.join(dir, "sync.json"), "hello")
        const previous = process.cwd()
        process.chdir(dir)
        const report = yield* Pipeline.run(readers, {
          parameters: { read_sync: { file: "sync.json" }, read_promise: { file: "sync.json" }, read_callback: { file: "sync.json" }, read_stream: { file: "sync.json" }, read_service: { file: "sync.json" } },
        }).pipe(Effect.ensuring(Effect.sync(() => process.chdir(previous))))
        const store = yield* CacheStore.CacheStore
        const key = report.processes.find((p) => p.name === "read_sync")!.key
        const manifest = (yield* store.getManifest(key)).pipe((o) => (o._tag === "Some" ? o.value : assert.fail("no entry")))
        assert.deepStrictEqual(manifest.trace, {
          files: [{ path: "sync.json", digest: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" }],
          random: false,
          seed: manifest.recipe.seed
        })
        // The step's reads are its process's too.
        const service = yield* store.getManifest(report.processes.find((p) => p.name === "read_service")!.key)
        assert.deepStrictEqual(service._tag === "Some" ? service.value.trace?.files.map((f) => f.path) : [], ["sync.json"])
      })
    ).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a deterministic step and process are served across seeds; two identical calls compute once", () =>
    Effect.gen(function*() {
      resetRuns()
      const first = yield* Pipeline.run(seeded, {})
      assert.strictEqual(runs["step:double"], 1, "three identical calls of a deterministic step (two at once) compute once")
      assert.deepStrictEqual(steps(first, "mixed").filter((s) => s.startsWith("double")), ["double=executed", "double=cached"])
      const other = yield* Pipeline.run(seeded, {}).pipe(Effect.provideService(Reproducibility.RootSeed, 7))
      assert.strictEqual(statuses(other).steady, "cached", "a process that drew nothing is served across seeds")
      assert.strictEqual(runs["steady"], 1)
      // The mixed process drew (through its steps): it re-runs with seed 7, its deterministic step hits.
      assert.strictEqual(statuses(other).mixed, "executed")
      assert.deepStrictEqual(steps(other, "mixed").filter((s) => s.startsWith("double")), ["double=cached", "double=cached"])
      assert.strictEqual(runs["step:double"], 1)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("steps drawing from Random, Math.random and a library re-run for another seed, and hit for theirs", () =>
    Effect.gen(function*() {
      resetRuns()
      yield* Pipeline.run(seeded, {})
      const counts = () => [runs["step:from_random"], runs["step:from_math_random"], runs["step:from_library"]]
      // Two calls of each in `mixed`, one in each draws_* process: each call its own seed.
      assert.deepStrictEqual(counts(), [3, 3, 3])
      const seven = yield* Pipeline.run(seeded, {}).pipe(Effect.provideService(Reproducibility.RootSeed, 7))
      assert.deepStrictEqual(counts(), [6, 6, 6])
      assert.deepStrictEqual([statuses(seven).draws_random, statuses(seven).draws_math, statuses(seven).draws_library], ["executed", "executed", "executed"])
      // Back on 42: every entry of the first run holds again.
      const again = yield* Pipeline.run(seeded, {})
      assert.deepStrictEqual(Object.values(statuses(again)), ["cached", "cached", "cached", "cached", "cached"])
      assert.deepStrictEqual(counts(), [6, 6, 6])
      // Math.random is Node's own again outside the run.
      assert.match(Function.prototype.toString.call(Math.random), /\[native code\]/)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("the same seed reproduces every output byte for byte at concurrency 1 and 8", () =>
    Effect.gen(function*() {
      const outputs = (concurrency: number, seed = 42) =>
        Effect.gen(function*() {
          const report = yield* Pipeline.run(seeded, { concurrency })
          const store = yield* CacheStore.CacheStore
          const stored: Record<string, string> = {}
          for (const p of report.processes) {
            const found = yield* store.getManifest(p.key)
            stored[p.name] = found._tag === "Some" ? JSON.stringify(found.value.output) : "missing"
          }
          return stored
        }).pipe(Effect.provide(TestLayers.layer({ seed })))
      const one = yield* outputs(1)
      const eight = yield* outputs(8)
      assert.deepStrictEqual(eight, one)
      const numbers = JSON.parse(one.draws_math!)
      // Seeded, not constant: six different numbers in [0, 1).
      assert.strictEqual(new Set(numbers.numbers).size, 6)
      const other = yield* outputs(8, 7)
      for (const name of ["draws_random", "draws_math", "draws_library", "mixed"]) assert.notStrictEqual(other[name], one[name], name)
      assert.strictEqual(other.steady, one.steady)
    }))

  it.effect("Math.random outside bodies is not seeded, during a run or after", () =>
    Effect.gen(function*() {
      const outside: Array<number> = []
      yield* Pipeline.run(seeded, {}).pipe(Effect.tap(() => Effect.sync(() => outside.push(Math.random()))))
      assert.match(Function.prototype.toString.call(Math.random), /\[native code\]/)
      assert.strictEqual(outside.length, 1)
    }).pipe(Effect.provide(TestLayers.layer())))
})
