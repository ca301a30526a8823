import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { CacheLease, ProjectConfig } from "@expops/core"

const decode = (doc: unknown) => ProjectConfig.decode(doc, { file: "configs/project_config.yaml", lineOf: (path) => path.length + 1 })
const messages = (doc: unknown) => Effect.map(Effect.flip(decode(doc)), (e) => e.message)

describe("ProjectConfig", () => {
  it.effect("decodes the documented example and fills defaults", () =>
    Effect.gen(function*() {
      const config = yield* decode({
        metadata: { name: "quickstart" },
        scripts: { main: "src/pipeline.ts" },
        reproducibility: { seed: 42 },
        data: { path: "data/iris.csv" },
        model: {
          parameters: {
            cache: { backend: "gcs", gcs: { bucket: "my-bucket", prefix: "expops", project: "p", credentials: "keys/sa.json" } },
            pipeline: {
              process_adjlist: "load_data prepare\n",
              processes: [{ name: "prepare", parameters: { test_size: 0.2 } }]
            }
          }
        }
      })
      assert.strictEqual(config.name, "quickstart")
      assert.strictEqual(config.seed, 42)
      assert.strictEqual(config.backend, "gcs")
      assert.deepStrictEqual(config.gcs, { bucket: "my-bucket", prefix: "expops", project: "p", credentials: "keys/sa.json", localTier: true })
      assert.deepStrictEqual(config.parameters, { prepare: { test_size: 0.2 } })
      assert.strictEqual(config.adjlist, "load_data prepare\n")

      const minimal = yield* decode({ metadata: { name: "m" } })
      assert.strictEqual(minimal.main, "src/pipeline.ts")
      assert.strictEqual(minimal.backend, "local")
      assert.strictEqual(minimal.seed, 0)
      assert.strictEqual(minimal.dataPath, undefined)
    }))

  it.effect("cache.lease: timings in seconds, defaults filled in; a bad timing names its key", () =>
    Effect.gen(function*() {
      const lease = (value: unknown) => ({ metadata: { name: "m" }, model: { parameters: { cache: { lease: value } } } })
      const given = yield* decode(lease({ heartbeat_seconds: 0.2, expiry_seconds: 1.5, max_wait_seconds: 60 }))
      assert.deepStrictEqual(given.lease, { heartbeatMs: 200, expiryMs: 1_500, maxWaitMs: 60_000, pollMs: 100 })
      assert.deepStrictEqual((yield* decode({ metadata: { name: "m" } })).lease, CacheLease.defaultSettings)
      assert.match(
        yield* messages(lease({ heartbeat_seconds: 5, expiry_seconds: 5 })),
        /model\.parameters\.cache\.lease\.expiry_seconds: must be longer than heartbeat_seconds \(5\)/
      )
      assert.match(yield* messages(lease({ max_wait_seconds: 0 })), /model\.parameters\.cache\.lease\.max_wait_seconds: expected a value greater than 0, found number 0/)
      assert.match(yield* messages(lease({ heartbeat_second: 5 })), /lease\.heartbeat_second: unknown key; did you mean `heartbeat_seconds`\?/)
    }))

  it.effect("the cluster section: its url, wait and retention; a section without url or with a bad value is located", () =>
    Effect.gen(function*() {
      const config = yield* decode({ metadata: { name: "m" }, cluster: { url: "postgres://u@db/expops", runner_wait_seconds: 5, keep_replies_hours: 48 } })
      assert.deepStrictEqual(config.cluster, { url: "postgres://u@db/expops", runnerWaitSeconds: 5, keepRepliesHours: 48 })
      assert.strictEqual((yield* decode({ metadata: { name: "m" } })).cluster, undefined)
      assert.match(yield* messages({ metadata: { name: "m" }, cluster: {} }), /:3: cluster\.url: is required/)
      assert.match(yield* messages({ metadata: { name: "m" }, cluster: { url: "postgres://db/x", runner_wait_seconds: 0 } }), /cluster\.runner_wait_seconds: .*found number 0/)
      assert.match(yield* messages({ metadata: { name: "m" }, cluster: { url: "postgres://db/x", urll: 1 } }), /cluster\.urll: unknown key; did you mean `url`\?/)
    }))

  it.effect("accepts experiment: as an alias of model:, but not both", () =>
    Effect.gen(function*() {
      const config = yield* decode({ metadata: { name: "m" }, experiment: { parameters: { cache: { backend: "local" } } } })
      assert.strictEqual(config.modelKey, "experiment")
      assert.match(yield* messages({ metadata: { name: "m" }, model: {}, experiment: {} }), /experiment: use either `model` or its alias `experiment`, not both/)
      // Errors inside the alias use the spelling the file used.
      assert.match(yield* messages({ metadata: { name: "m" }, experiment: { parameters: { cache: { backend: "s3" } } } }), /experiment\.parameters\.cache\.backend: expected "local" \| "gcs", found string "s3"/)
    }))

  it.effect("an unknown key names the path and the nearest valid key", () =>
    Effect.gen(function*() {
      const message = yield* messages({ metadata: { name: "m" }, reproducibility: { sed: 1 } })
      assert.match(message, /configs\/project_config\.yaml:3: reproducibility\.sed: unknown key; did you mean `seed`\? \(valid here: seed\)/)
      const nested = yield* messages({ metadata: { name: "m" }, model: { parameters: { cache: { backend: "local", bakend: "x" } } } })
      assert.match(nested, /model\.parameters\.cache\.bakend: unknown key; did you mean `backend`\?/)
      const top = yield* messages({ metadata: { name: "m" }, zzz: 1 })
      assert.match(top, /zzz: unknown key \(valid here: metadata, scripts, reproducibility, data, model, cluster, experiment\)/)
    }))

  it.effect("a wrong type names the path, what was expected and what was found", () =>
    Effect.gen(function*() {
      assert.match(yield* messages({ metadata: { name: "m" }, reproducibility: { seed: 1.5 } }), /reproducibility\.seed: expected an integer, found number 1\.5/)
      assert.match(yield* messages({ metadata: { name: "m" }, reproducibility: { seed: "42" } }), /reproducibility\.seed: expected an integer, found string "42"/)
      assert.match(yield* messages({ metadata: { name: "m" }, model: { parameters: { cache: { backend: "s3" } } } }), /expected "local" \| "gcs", found string "s3"/)
    }))

  it.effect("reports every problem at once, including missing required keys", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decode({ metadata: {}, scripts: { main: 3 }, extra: true }))
      assert.deepStrictEqual(error.issues.map((i) => i.path).sort(), ["extra", "metadata.name", "scripts.main"])
      assert.match(error.message, /metadata\.name: is required/)
    }))

  it.effect("gcs settings are required with backend gcs", () =>
    Effect.gen(function*() {
      assert.match(yield* messages({ metadata: { name: "m" }, model: { parameters: { cache: { backend: "gcs" } } } }), /model\.parameters\.cache\.gcs: is required when backend is gcs/)
    }))

  it.effect("a document that is not a mapping", () =>
    Effect.gen(function*() {
      assert.match(yield* messages(["a"]), /the file must hold a mapping of keys .* found a list/)
      assert.match(yield* messages(null), /found null/)
    }))

  it.effect("a process listed twice", () =>
    Effect.gen(function*() {
      const doc = { metadata: { name: "m" }, model: { parameters: { pipeline: { processes: [{ name: "a" }, { name: "a" }] } } } }
      assert.match(yield* messages(doc), /model\.parameters\.pipeline\.processes\.1\.name: process a is listed twice/)
    }))

  it.effect("the valid keys are the schema's at every level, inside lists too", () =>
    Effect.gen(function*() {
      const entry = yield* messages({ metadata: { name: "m" }, model: { parameters: { pipeline: { processes: [{ nme: "a" }] } } } })
      assert.match(entry, /model\.parameters\.pipeline\.processes\.0\.nme: unknown key; did you mean `name`\? \(valid here: name, parameters, seed_parallelism, data_parallelism\)/)
      assert.match(entry, /model\.parameters\.pipeline\.processes\.0\.name: is required/)
      const gcs = yield* messages({ metadata: { name: "m" }, model: { parameters: { cache: { gcs: { bucket: "b", local_teir: false } } } } })
      assert.match(gcs, /gcs\.local_teir: unknown key; did you mean `local_tier`\? \(valid here: bucket, prefix, project, credentials, local_tier\)/)
    }))

  it.effect("a value failing a check says what was expected", () =>
    Effect.gen(function*() {
      assert.match(yield* messages({ metadata: { name: "-m" } }), /metadata\.name: expected a name of letters, digits, '\.', '_' or '-', found string "-m"/)
      const concurrency = { metadata: { name: "m" }, model: { parameters: { pipeline: { concurrency: 0 } } } }
      assert.match(yield* messages(concurrency), /pipeline\.concurrency: expected a value greater than or equal to 1, found number 0/)
      assert.match(yield* messages({ metadata: { name: "m" }, model: { parameters: { pipeline: { processes: "a" } } } }), /processes: expected array, found string "a"/)
    }))

  describe("fan-out keys", () => {
    const withProcesses = (processes: ReadonlyArray<unknown>, pipeline: object = {}) => ({
      metadata: { name: "m" },
      model: { parameters: { pipeline: { processes, ...pipeline } } }
    })

    it.effect("seed_parallelism, data_parallelism and max_branches decode into fan-out settings, each with where it was written", () =>
      Effect.gen(function*() {
        const config = yield* decode(withProcesses([
          { name: "load", data_parallelism: { size: [50, 20, 20], data_name: "rows" } },
          { name: "prepare", seed_parallelism: { seeds: 42 } },
          { name: "summarise", seed_parallelism: { aggregation: true }, data_parallelism: { aggregation: true } },
          { name: "train", parameters: { rate: 1 } }
        ], { max_branches: 5000 }))
        // The test's lineOf answers the path's length + 1: processes.<i>.<setting> is 7 deep.
        const at = "configs/project_config.yaml:7"
        assert.deepStrictEqual(config.fanout, {
          load: { data: { size: [50, 20, 20], dataName: "rows", at } },
          prepare: { seed: { seeds: 42, at } },
          summarise: { seed: { aggregation: true, at }, data: { aggregation: true, at } }
        })
        assert.strictEqual(config.maxBranches, 5000)
        assert.deepStrictEqual(config.parameters, { load: {}, prepare: {}, summarise: {}, train: { rate: 1 } })
        assert.strictEqual((yield* decode({ metadata: { name: "m" } })).maxBranches, undefined)
      }))

    it.effect("a misspelt or mistyped fan-out key names its path and what was expected", () =>
      Effect.gen(function*() {
        assert.match(
          yield* messages(withProcesses([{ name: "prepare", seed_paralelism: { seeds: [1] } }])),
          /model\.parameters\.pipeline\.processes\.0\.seed_paralelism: unknown key; did you mean `seed_parallelism`\?/
        )
        assert.match(
          yield* messages(withProcesses([{ name: "prepare", seed_parallelism: { seed: [1] } }])),
          /processes\.0\.seed_parallelism\.seed: unknown key; did you mean `seeds`\? \(valid here: seeds, aggregation\)/
        )
        assert.match(
          yield* messages(withProcesses([{ name: "prepare", seed_parallelism: { seeds: "1, 2" } }])),
          /processes\.0\.seed_parallelism\.seeds: expected an integer or a list of integers, found string "1, 2"/
        )
        assert.match(
          yield* messages(withProcesses([{ name: "load", data_parallelism: { size: 0 } }])),
          /processes\.0\.data_parallelism\.size: expected a value greater than or equal to 1, found number 0/
        )
        assert.match(yield* messages(withProcesses([], { max_branches: 0 })), /model\.parameters\.pipeline\.max_branches: .*found number 0/)
      }))
  })
})
