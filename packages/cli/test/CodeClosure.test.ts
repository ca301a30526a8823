import * as Path from "node:path"
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, copyProject, editFile, executedSteps, json, manifestFile, run, statuses } from "./helpers.ts"

const explainChanges = (dir: string, target: string) =>
  Effect.map(
    json<{ explanations: Array<{ changes: Array<{ message: string }> }> }>(["explain", dir, target]),
    (e) => e.explanations.flatMap((x) => x.changes.map((c) => c.message))
  )

// In-process, on Node's own loader: the fingerprints are of the code Node runs,
// and a project edited between two runs is loaded afresh (see importFresh).
describe("expops run: keys cover the code closure", () => {
  it.live("editing the quick start's helper softmax re-runs train_model and evaluate, leaves load_data and prepare cached, and explain names it", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      assert.strictEqual((yield* run(dir)).status, 0)
      assert.isTrue(existsSync(Path.join(dir, ".expops/code-index.json")), "the analyses are kept for the next run")
      editFile(Path.join(dir, "src/train.ts"), "Math.exp(s - max)", "Math.exp((s - max) * 0.5)")
      const edited = yield* run(dir)
      assert.strictEqual(edited.status, 0, edited.stderr)
      assert.deepStrictEqual(statuses(edited.report), { load_data: "cached", prepare: "cached", train_model: "executed", evaluate: "executed" })
      // Inside them, only the steps that reach softmax (and what follows from their new outputs).
      assert.includeMembers(executedSteps(edited.report), ["train_model/fit", "train_model/training_accuracy", "evaluate/predict"])
      assert.notInclude(executedSteps(edited.report), "train_model/init_weights")
      assert.deepStrictEqual(yield* explainChanges(dir, "train_model"), ["helper `softmax` (src/train.ts) changed"])
      // Three of the quick start's processes list no steps: they run and hit all the same.
      const again = yield* run(dir)
      assert.deepStrictEqual(statuses(again.report), { load_data: "cached", prepare: "cached", train_model: "cached", evaluate: "cached" })
    }))

  it.live("explain says so when an entry's code parts (a blob of their own) are gone, and still names what it can", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const first = yield* run(dir)
      assert.strictEqual(first.status, 0, first.stderr)
      /** Removes the blob of the code parts the manifest of process `name` names (with its recipe, the third line). */
      const removeCodeParts = (name: string) => {
        const key = first.report.processes.find((p) => p.name === name)!.key
        const digest: string = JSON.parse(readFileSync(manifestFile(dir, key), "utf8").split("\n")[2]!).codeParts.digest
        unlinkSync(Path.join(dir, ".expops/cache/blobs", digest.slice(0, 2), digest))
        return digest
      }
      const trainParts = removeCodeParts("train_model")
      const loadParts = removeCodeParts("load_data")
      editFile(Path.join(dir, "src/train.ts"), "Math.exp(s - max)", "Math.exp((s - max) * 0.5)")
      const edited = yield* run(dir)
      assert.strictEqual(edited.status, 0, edited.stderr)
      // Served without them: a hit does not read them.
      assert.deepStrictEqual(statuses(edited.report), { load_data: "cached", prepare: "cached", train_model: "executed", evaluate: "executed" })
      assert.deepStrictEqual(yield* explainChanges(dir, "train_model"), [
        `code of process \`train_model\` changed (which part is not known: the code parts of the earlier entry's recipe cannot be read, its blob ${trainParts} is missing from the cache)`
      ])
      const load = yield* cli(["explain", dir, "load_data"])
      assert.strictEqual(load.status, 0, load.stderr)
      assert.match(load.stdout, /a hit: served from the entry written/)
      assert.include(load.stdout, `cannot be shown: its blob ${loadParts} is missing from the cache`)
    }))

  it.live("a non-reproducible call in the closure is a warning naming step and file:line; --strict refuses to run (exit 2)", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editFile(Path.join(dir, "src/train.ts"), "const max = Math.max(...scores)", "const max = Math.max(...scores) + Date.now() * 0")
      const warned = yield* run(dir)
      assert.strictEqual(warned.status, 0, warned.stderr)
      assert.match(warned.stderr, /warning: Date\.now\(\) in helper `softmax` \(src\/train\.ts:\d+:\d+\) gives another result on every run; reached by step fit, /)
      const strict = yield* cli(["run", dir, "--strict"])
      assert.strictEqual(strict.status, 2, strict.stderr)
      assert.match(strict.stderr, /--strict: not reproducible:\n  - Date\.now\(\) in helper `softmax`/)
    }))

  it.live("a factory-made step reading its argument stops the run at load, naming the variable and where", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      writeFileSync(Path.join(dir, "src/factory.ts"), [
        "import { Step } from \"@expops/core\"",
        "import { Schema } from \"effect\"",
        "export const makeScale = (factor: number) =>",
        "  Step.make({ name: \"scale\", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return x * factor } })",
        ""
      ].join("\n"))
      editFile(Path.join(dir, "src/pipeline.ts"), /^/, "import { makeScale } from \"./factory.ts\"\nexport const byTwo = makeScale(2)\n")
      const result = yield* cli(["run", dir])
      assert.strictEqual(result.status, 2, result.stderr)
      assert.match(result.stderr, /step scale \(src\/factory\.ts:4:\d+\): its body reads `factor` from an enclosing function/)
    }))
})
