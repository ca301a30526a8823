import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Random, Schema } from "effect"
import { Cache, CacheStore, CanonicalHash, Step } from "@expops/core"
import { TestLayers, TestRecipes } from "@expops/core/testing"

const Numbers = Schema.Array(Schema.Finite)

describe("Step", () => {
  it.effect("a hit skips the body and returns the stored output", () =>
    Effect.gen(function*() {
      const runs = { count: 0 }
      const double = Step.make({
        name: "double",
        input: Numbers,
        output: Numbers,
        run: function*(xs) {
          runs.count++
          return xs.map((x) => x * 2)
        }
      })
      assert.deepStrictEqual(yield* double([1, 2]), [2, 4])
      assert.deepStrictEqual(yield* double([1, 2]), [2, 4])
      assert.strictEqual(runs.count, 1)
      assert.deepStrictEqual(yield* double([3]), [6])
      assert.strictEqual(runs.count, 2)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("accepts a body that returns an Effect, and runs it lazily", () =>
    Effect.gen(function*() {
      const calls = { count: 0 }
      const len = Step.make({
        name: "len",
        input: Schema.String,
        output: Schema.Int,
        run: (s) => {
          calls.count++
          return Effect.succeed(s.length)
        }
      })
      assert.strictEqual(yield* len("abc"), 3)
      assert.strictEqual(yield* len("abc"), 3)
      assert.strictEqual(calls.count, 1)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("is invalidated by a change of input, config, code or version", () =>
    Effect.gen(function*() {
      const counts: Record<string, number> = {}
      const make = (variant: string, version?: string) =>
        Step.make({
          name: "scale",
          input: Numbers,
          output: Numbers,
          config: Schema.Struct({ factor: Schema.Finite }),
          version,
          run: variant === "a"
            ? function*(xs, { factor }) {
              counts.a = (counts.a ?? 0) + 1
              return xs.map((x) => x * factor)
            }
            : function*(xs, { factor }) {
              counts.b = (counts.b ?? 0) + 1
              return xs.map((x) => x * factor + 0)
            }
        })
      const a = make("a")
      yield* a([1], { factor: 2 })
      yield* a([1], { factor: 2 })
      assert.strictEqual(counts.a, 1)
      yield* a([2], { factor: 2 }) // input
      assert.strictEqual(counts.a, 2)
      yield* a([2], { factor: 3 }) // config
      assert.strictEqual(counts.a, 3)
      yield* make("a", "2")([2], { factor: 3 }) // version
      assert.strictEqual(counts.a, 4)
      yield* make("b")([2], { factor: 3 }) // code
      assert.strictEqual(counts.b, 1)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a step that calls a captured step is invalidated when that step's code changes", () =>
    Effect.gen(function*() {
      const runs: Record<string, number> = {}
      const count = (name: string) => void (runs[name] = (runs[name] ?? 0) + 1)
      const makeInner = (edited: boolean) =>
        Step.make({
          name: "inner",
          input: Schema.Finite,
          output: Schema.Finite,
          run: edited
            ? function*(x) {
              count("inner")
              return x + 2
            }
            : function*(x) {
              count("inner")
              return x + 1
            }
        })
      const makeOuter = (inner: Step.Step<number, number, void, never, never>) =>
        Step.make({
          name: "outer",
          input: Schema.Finite,
          output: Schema.Finite,
          // A step passed in is a value the code does not show: declared, it counts by its fingerprint.
          captures: { inner },
          run: function*(x) {
            count("outer")
            return (yield* inner(x)) * 10
          }
        })
      assert.strictEqual(yield* makeOuter(makeInner(false))(1), 20)
      assert.strictEqual(yield* makeOuter(makeInner(false))(1), 20)
      assert.deepStrictEqual(runs, { outer: 1, inner: 1 })
      assert.strictEqual(yield* makeOuter(makeInner(true))(1), 30)
      assert.deepStrictEqual(runs, { outer: 2, inner: 2 })
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a changed output schema never decodes an old entry", () =>
    Effect.gen(function*() {
      const runs = { count: 0 }
      const body = function*(x: number) {
        runs.count++
        return x
      }
      yield* Step.make({ name: "id", input: Schema.Finite, output: Schema.Finite, version: "1", run: body })(1)
      yield* Step.make({ name: "id", input: Schema.Finite, output: Schema.Int, version: "1", run: body })(1)
      assert.strictEqual(runs.count, 2)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a failed step is not cached", () =>
    Effect.gen(function*() {
      const runs = { count: 0 }
      const flaky = Step.make({
        name: "flaky",
        input: Schema.Finite,
        output: Schema.Finite,
        run: (x) =>
          Effect.suspend(() => {
            runs.count++
            return runs.count === 1 ? Effect.fail("boom" as const) : Effect.succeed(x)
          })
      })
      const first = yield* Effect.exit(flaky(1))
      assert.isTrue(Exit.isFailure(first))
      const store = yield* CacheStore.CacheStore
      assert.deepStrictEqual(yield* store.listManifests, [])
      assert.strictEqual(yield* flaky(1), 1)
      assert.strictEqual(runs.count, 2)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("passes the body's typed error through unchanged", () =>
    Effect.gen(function*() {
      class Boom extends Schema.TaggedError<Boom>()("Boom", { at: Schema.Finite }) {}
      const step = Step.make({
        name: "boom",
        input: Schema.Finite,
        output: Schema.Finite,
        run: function*(x) {
          return yield* new Boom({ at: x })
        }
      })
      const error = yield* Effect.flip(step(7))
      assert.strictEqual(error._tag, "Boom")
      assert.strictEqual((error as Boom).at, 7)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("an input the schema cannot encode is an error naming the step and the path", () =>
    Effect.gen(function*() {
      const step = Step.make({
        name: "rows",
        input: Schema.Struct({ rows: Schema.Array(Schema.Struct({ id: Schema.Int })) }),
        output: Schema.Finite,
        run: function*({ rows }) {
          return rows.length
        }
      })
      const error = yield* Effect.flip(step({ rows: [{ id: 1 }, { id: 1.5 }] }))
      assert.strictEqual(error._tag, "EncodeError")
      assert.match(error.message, /step rows: cannot encode its input at \.rows\[1\]\.id: Expected an integer/)
      // The schema's own error is kept, with its issue tree.
      assert.isTrue(Schema.isSchemaError(error.cause))
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("keys, outputs and errors are the same once a schema's codec is generated (after its first uses)", () =>
    Effect.gen(function*() {
      const Row = Schema.Struct({ id: Schema.Int, at: Schema.Date, n: Schema.NumberFromString, note: Schema.optional(Schema.String) })
      const runs = { count: 0 }
      const step = Step.make({
        name: "rows",
        input: Schema.Array(Row),
        output: Schema.Array(Row),
        run: function*(rows) {
          runs.count++
          return rows.map((row) => ({ ...row, id: row.id + 1, extra: "dropped" }))
        }
      })
      const input = (i: number) => [{ id: i, at: new Date(i), n: i / 2, unknown: "ignored" }, { id: 2, at: new Date(0), n: 1, note: "x" }]
      const seen: Array<{ readonly value: unknown; readonly error: string }> = []
      // Each round: two calls and an input that cannot be encoded, first on the interpreter, then on the generated codecs.
      for (let round = 0; round < 5; round++) {
        const value = yield* step(input(1))
        assert.deepStrictEqual(yield* step(input(1)), value)
        const error = yield* Effect.flip(step([{ id: 1.5, at: new Date(0), n: 1 }] as never))
        seen.push({ value, error: error.message })
      }
      // One computation: every later call found the same key.
      assert.strictEqual(runs.count, 1)
      for (const later of seen.slice(1)) assert.deepStrictEqual(later, seen[0])
      assert.deepStrictEqual(seen[0]!.value, [
        { id: 2, at: new Date(1), n: 0.5 },
        { id: 3, at: new Date(0), n: 1, note: "x" }
      ])
      assert.match(seen[0]!.error, /step rows: cannot encode its input at \[0\]\.id: Expected an integer/)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a Buffer output is served from the cache like a Uint8Array, and keys the same as one", () =>
    Effect.gen(function*() {
      const runs = { count: 0 }
      const bytes = Step.make({
        name: "bytes",
        input: Schema.Uint8Array,
        output: Schema.Uint8Array,
        run: (input) => Effect.sync(() => {
          runs.count++
          return Buffer.concat([input, input])
        })
      })
      const first = yield* bytes(Buffer.from("ab"))
      const second = yield* bytes(new Uint8Array([97, 98]))
      assert.strictEqual(runs.count, 1)
      assert.deepStrictEqual(Array.from(second), Array.from(first))
      assert.strictEqual(second.constructor, Uint8Array)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a config holding a bigint, a Map or bytes is stored, and kept readable for explain", () =>
    Effect.gen(function*() {
      const store = yield* CacheStore.CacheStore
      const runs = { count: 0 }
      const step = Step.make({
        name: "configured",
        input: Schema.Finite,
        output: Schema.Finite,
        config: Schema.Struct({ n: Schema.BigInt, m: Schema.ReadonlyMap(Schema.String, Schema.Finite), raw: Schema.Uint8Array }),
        run: (x, { n }) => Effect.sync(() => {
          runs.count++
          return x + Number(n)
        })
      })
      const config = { n: 5n, m: new Map([["a", 1]]), raw: new Uint8Array(3) }
      assert.strictEqual(yield* step(1, config), 6)
      assert.strictEqual(yield* step(1, config), 6)
      assert.strictEqual(runs.count, 1)
      const [entry] = yield* store.listManifests
      const manifest = Option.getOrThrow(yield* store.getManifest(entry!.key))
      assert.deepStrictEqual(manifest.recipe.configValue, { n: "5n", m: [["a", 1]], raw: "<Uint8Array of 3 bytes>" })
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("an input with an unhashable part is an error naming the path", () =>
    Effect.gen(function*() {
      const step = Step.make({
        name: "any",
        input: Schema.Struct({ payload: Schema.Unknown }),
        output: Schema.Finite,
        run: function*() {
          return 1
        }
      })
      const error = yield* Effect.flip(step({ payload: { handler: () => 1 } }))
      assert.match(error.message, /step any: cannot encode its input at \.payload\.handler: found a function/)
      // What the hash found is kept as data, not only in the words.
      assert.instanceOf(error.cause, CanonicalHash.UnhashableValueError)
      assert.deepStrictEqual((error.cause as CanonicalHash.UnhashableValueError).path, ["payload", "handler"])
      assert.strictEqual((error.cause as CanonicalHash.UnhashableValueError).found, "a function")
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("runs with Random seeded: the same call draws the same numbers", () =>
    Effect.gen(function*() {
      const draw = Step.make({
        name: "draw",
        input: Schema.Finite,
        output: Numbers,
        run: function*(n) {
          const out: Array<number> = []
          for (let i = 0; i < n; i++) out.push(yield* Random.next)
          return out
        }
      })
      const fresh = yield* draw(3).pipe(Effect.provide(TestLayers.layer({ seed: 1 })))
      const again = yield* draw(3).pipe(Effect.provide(TestLayers.layer({ seed: 1 })))
      const other = yield* draw(3).pipe(Effect.provide(TestLayers.layer({ seed: 2 })))
      assert.deepStrictEqual(fresh, again)
      assert.notDeepEqual(fresh, other)
    }))

  it.effect("stores binary outputs in blobs and restores them exactly", () =>
    Effect.gen(function*() {
      const runs = { count: 0 }
      const weights = Step.make({
        name: "weights",
        input: Schema.Int,
        output: Schema.Struct({ w: Schema.instanceOf(Float64Array), tag: Schema.Uint8Array }),
        run: function*(n) {
          runs.count++
          return { w: Float64Array.from({ length: n }, (_, i) => i / 3), tag: new Uint8Array([1, 2, 3]) }
        }
      })
      const first = yield* weights(5000)
      const second = yield* weights(5000)
      assert.strictEqual(runs.count, 1)
      assert.instanceOf(second.w, Float64Array)
      assert.deepStrictEqual(Array.from(second.w), Array.from(first.w))
      assert.deepStrictEqual(Array.from(second.tag), [1, 2, 3])
      const store = yield* CacheStore.CacheStore
      // The Float64Array, and the step's code parts.
      assert.strictEqual((yield* store.listBlobs).length, 2)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("concurrent calls with the same key compute once", () =>
    Effect.gen(function*() {
      const runs = { count: 0 }
      const slow = Step.make({
        name: "slow",
        input: Schema.Finite,
        output: Schema.Finite,
        run: function*(x) {
          runs.count++
          yield* Effect.yieldNow
          return x
        }
      })
      const results = yield* Effect.all(Array.from({ length: 5 }, () => slow(1)), { concurrency: "unbounded" })
      assert.deepStrictEqual(results, [1, 1, 1, 1, 1])
      assert.strictEqual(runs.count, 1)
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("of concurrent calls with the same key, the one that computed reports a miss, the others a hit", () =>
    Effect.gen(function*() {
      const cache = yield* Cache.Cache
      const misses: Array<number> = []
      const call = (i: number) =>
        cache.memoize({
          key: "k".repeat(64),
          recipe: TestRecipes.placeholder("shared"),
          schema: Schema.Finite,
          compute: Effect.as(Effect.yieldNow, 7),
          onMiss: Effect.sync(() => void misses.push(i))
        })
      const outcomes = yield* Effect.all([call(0), call(1), call(2)], { concurrency: "unbounded" })
      assert.deepStrictEqual(outcomes.map((o) => [o.value, o.cached]), [[7, false], [7, true], [7, true]])
      assert.deepStrictEqual(misses, [0])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("with the cache off, always runs and stores nothing", () =>
    Effect.gen(function*() {
      const runs = { count: 0 }
      const step = Step.make({
        name: "off",
        input: Schema.Finite,
        output: Schema.Finite,
        run: function*(x) {
          runs.count++
          return x
        }
      })
      yield* step(1)
      yield* step(1)
      assert.strictEqual(runs.count, 2)
      const cache = yield* Cache.Cache
      assert.strictEqual(cache.mode, "off")
      assert.deepStrictEqual(yield* (yield* CacheStore.CacheStore).listManifests, [])
    }).pipe(Effect.provide(TestLayers.layer({ mode: "off" }))))
})
