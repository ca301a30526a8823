import { readFileSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import type { RunReport } from "@expops/core"
import { Effect } from "effect"
import { cli, copyFanout, copyProject, editConfig, json, manifestKeys, run, statuses } from "./helpers.ts"

/** Seed parallelism on the quick start's `prepare`, as ExpOps users write it. */
const withSeeds = (dir: string, seeds: string) =>
  editConfig(dir, "        - name: prepare\n          parameters:", `        - name: prepare\n          seed_parallelism:\n            seeds: ${seeds}\n          parameters:`)

const ofBase = (report: RunReport.RunReport, base: string) => report.processes.filter((p) => p.base === base)

/** `expops run` on a broken config: exit 2, the message on stderr, nothing stored. */
const refused = (dir: string, pattern: RegExp) =>
  Effect.gen(function*() {
    const before = manifestKeys(dir)
    const result = yield* cli(["run", dir, "--json"])
    assert.strictEqual(result.status, 2, result.stderr)
    assert.strictEqual(result.stdout, "")
    assert.match(result.stderr, pattern)
    assert.deepStrictEqual(manifestKeys(dir), before)
  })

describe("expops run with a fan-out", () => {
  it.live("seed_parallelism: 3 branches with their own keys, a 4th seed runs only its branch; report, progress and explain name the branches", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      withSeeds(dir, "[1, 2, 3]")
      const three = yield* run(dir)
      assert.strictEqual(three.status, 0, three.stderr)
      const trains = ofBase(three.report, "train_model")
      assert.deepStrictEqual(trains.map((p) => [p.name, p.status, p.branch]), [
        ["train_model_seed1", "executed", { seed: 1 }],
        ["train_model_seed2", "executed", { seed: 2 }],
        ["train_model_seed3", "executed", { seed: 3 }]
      ])
      assert.strictEqual(new Set(trains.map((p) => p.key)).size, 3)
      assert.deepStrictEqual(ofBase(three.report, "evaluate").map((p) => p.name), ["evaluate_seed1", "evaluate_seed2", "evaluate_seed3"])
      // Progress (plain, not on a terminal): one line for the branches of a process.
      assert.match(three.stderr, /train_model: 3 branches, 3 executed in /)
      assert.match(three.stderr, /fan-out: +prepare: seed_parallelism over 3 seeds \(1, 2, 3\) → train_model, evaluate once per branch; not aggregated/)

      editConfig(dir, "seeds: [1, 2, 3]", "seeds: [1, 2, 3, 4]")
      const four = yield* run(dir)
      assert.strictEqual(four.status, 0, four.stderr)
      assert.deepStrictEqual(ofBase(four.report, "train_model").map((p) => p.status), ["cached", "cached", "cached", "executed"])
      assert.deepStrictEqual(statuses(four.report).prepare, "cached")
      assert.match(four.stderr, /train_model: 4 branches, 1 executed, 3 cached in /)

      // explain takes a branch by its own name, or a process that ran as branches by its name (each branch).
      const one = yield* json<{ explanations: Array<{ name: string; changes: Array<{ message: string }> }> }>(["explain", dir, "train_model_seed4"])
      assert.deepStrictEqual(one.explanations.map((e) => e.name), ["train_model_seed4"])
      assert.deepStrictEqual(one.explanations[0]!.changes.map((c) => c.message), ["seed changed (3 -> 4)"])
      const all = yield* json<{ explanations: Array<{ name: string; status: string }> }>(["explain", dir, "train_model"])
      assert.deepStrictEqual(all.explanations.map((e) => [e.name, e.status]), [
        ["train_model_seed1", "cached"],
        ["train_model_seed2", "cached"],
        ["train_model_seed3", "cached"],
        ["train_model_seed4", "executed"]
      ])
      const step = yield* json<{ explanations: Array<{ name: string; process: string }> }>(["explain", dir, "train_model_seed4/fit"])
      assert.deepStrictEqual(step.explanations.map((e) => [e.process, e.name]), [["train_model_seed4", "fit"]])
      const typo = yield* cli(["explain", dir, "train_model_seed5"])
      assert.strictEqual(typo.status, 2)
      assert.match(typo.stderr, /has no process train_model_seed5; did you mean train_model_seed\d\? \(processes: load_data, prepare, train_model \(4 branches: train_model_seed1, train_model_seed2, …, train_model_seed4\), evaluate/)
    }))

  it.live("--dry-run lists the expanded graph: every branch, its status and what it runs after", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      withSeeds(dir, "[1, 2]")
      const dry = yield* run(dir, "--dry-run")
      assert.strictEqual(dry.status, 0, dry.stderr)
      assert.deepStrictEqual(dry.report.processes.map((p) => [p.name, p.upstream]), [
        ["load_data", []],
        ["prepare", ["load_data"]],
        ["train_model_seed1", ["prepare"]],
        ["train_model_seed2", ["prepare"]],
        ["evaluate_seed1", ["prepare", "train_model_seed1"]],
        ["evaluate_seed2", ["prepare", "train_model_seed2"]]
      ])
      assert.match(dry.stderr, /train_model_seed2 +would-run +its inputs come from prepare, which would run +after prepare/)
      assert.match(dry.stderr, /evaluate_seed1 +would-run .* after prepare, train_model_seed1/)
      assert.deepStrictEqual(manifestKeys(dir), [])
    }))

  it.live("the fan-out example: 3 partitions × 5 seeds aggregated into mean ± std; an edit in one partition re-runs its 5 branches and the aggregation", () =>
    Effect.gen(function*() {
      const dir = copyFanout()
      const cold = yield* run(dir)
      assert.strictEqual(cold.status, 0, cold.stderr)
      assert.strictEqual(cold.report.processes.length, 3 + 3 * 15)
      assert.deepStrictEqual(cold.report.processes.find((p) => p.name === "train_model_data2_seed4")!.branch, { partition: 2, seed: 4 })
      const metric = (name: string) => cold.report.metrics!.find((m) => m.process === "summarise" && m.name === name)?.value
      assert.isAbove(metric("accuracy_mean")!, 0.5)
      assert.isAtMost(metric("accuracy_mean")!, 1)
      assert.isAtLeast(metric("accuracy_std")!, 0)
      for (const name of ["accuracy_seed_std", "accuracy_data_std"]) assert.isDefined(metric(name), name)

      const warm = yield* run(dir)
      assert.isTrue(warm.report.processes.every((p) => p.status === "cached"))

      // Flower 5 of the file is setosa number 5: interleaved, it is row 13 of 150, in the first partition.
      const data = Path.join(dir, "data/iris.csv")
      const lines = readFileSync(data, "utf8").split("\n")
      assert.strictEqual(lines[5], "5,3.6,1.4,0.2,setosa")
      lines[5] = "5,3.7,1.4,0.2,setosa"
      writeFileSync(data, lines.join("\n"))
      const edited = yield* run(dir)
      assert.strictEqual(edited.status, 0, edited.stderr)
      const executed = edited.report.processes.filter((p) => p.status === "executed").map((p) => p.name)
      assert.deepStrictEqual(executed, [
        "load_data",
        "interleave",
        ...["prepare", "train_model", "evaluate"].flatMap((base) => [1, 2, 3, 4, 5].map((seed) => `${base}_data1_seed${seed}`)),
        "summarise"
      ])
    }))

  it.live("problems of the fan-out stop the run before anything runs, each at its line in the config", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      withSeeds(dir, "[]")
      yield* refused(dir, /project_config\.yaml:26: model\.parameters\.pipeline\.processes\.1\.seed_parallelism\.seeds: seed_parallelism of prepare: the seed list is empty/)
      editConfig(dir, "seeds: []", "seeds: [7, 8, 7]")
      yield* refused(dir, /project_config\.yaml:26: .*seed_parallelism\.seeds: seed_parallelism of prepare: seed 7 listed more than once/)
      editConfig(dir, "          seed_parallelism:\n            seeds: [7, 8, 7]\n", "")

      // An aggregation with no open layer upstream: at the aggregation's key.
      editConfig(dir, "            test_size: 0.2\n", "            test_size: 0.2\n        - name: evaluate\n          seed_parallelism: { aggregation: true }\n")
      yield* refused(dir, /project_config\.yaml:28: model\.parameters\.pipeline\.processes\.2\.seed_parallelism\.aggregation: seed_parallelism of evaluate: aggregation, but no seed parallelism is open upstream of evaluate/)
      editConfig(dir, "        - name: evaluate\n          seed_parallelism: { aggregation: true }\n", "")

      // data_name that is not an output; an output that cannot be split.
      editConfig(dir, "        - name: load_data\n", "        - name: load_data\n          data_parallelism: { size: 3, data_name: row }\n")
      yield* refused(dir, /project_config\.yaml:22: .*processes\.0\.data_parallelism\.data_name: data_parallelism of load_data: data_name row is not an output of load_data \(outputs: rows\)/)
      editConfig(dir, "data_parallelism: { size: 3, data_name: row }", "data_parallelism: { size: 3 }")
      editConfig(dir, "        - name: train_model\n", "        - name: train_model\n          data_parallelism: { size: 2 }\n")
      yield* refused(dir, /data_parallelism of train_model: train_model has no output that can be split into partitions \(only arrays and typed arrays can; outputs: model \(a struct\)\)/)
      editConfig(dir, "          data_parallelism: { size: 2 }\n", "")
      editConfig(dir, "          data_parallelism: { size: 3 }\n", "")

      // Over max_branches: refused until max_branches is raised, which is the confirmation.
      withSeeds(dir, `[${Array.from({ length: 1001 }, (_, i) => i).join(", ")}]`)
      yield* refused(dir, /project_config\.yaml:26: .*seed_parallelism\.seeds: fan-out would run train_model, evaluate in 1,001 branches each \(1001 seeds of prepare\), more than max_branches \(1,000\); to confirm, raise model\.parameters\.pipeline\.max_branches to 1001 or more/)
      editConfig(dir, "    pipeline:\n", "    pipeline:\n      max_branches: 1001\n")
      const confirmed = yield* run(dir, "--dry-run")
      assert.strictEqual(confirmed.status, 0, confirmed.stderr)
      assert.strictEqual(confirmed.report.processes.length, 2 + 2 * 1001)
      editConfig(dir, "max_branches: 1001", "max_branches: 1000")
      yield* refused(dir, /project_config\.yaml:16: model\.parameters\.pipeline\.max_branches: fan-out would run train_model, evaluate in 1,001 branches/)
    }))

  it.live("a size list whose sum differs from the rows fails the split when it runs (exit 1), naming the counts and the config line", () =>
    Effect.gen(function*() {
      const dir = copyFanout()
      editConfig(dir, "            size: 3\n", "            size: [60, 45, 40]\n")
      const result = yield* run(dir)
      assert.strictEqual(result.status, 1, result.stderr)
      const interleave = result.report.processes.find((p) => p.name === "interleave")!
      assert.strictEqual(interleave.status, "failed")
      assert.match(
        interleave.error!,
        /^data_parallelism of interleave \(\S*project_config\.yaml:30\): cannot split output rows: size \[60, 45, 40\] adds up to 145 rows, but there are 150$/
      )
      assert.isTrue(result.report.processes.filter((p) => p.base !== undefined || p.name === "summarise").every((p) => p.status === "skipped"))
      assert.match(result.stderr, /interleave failed: data_parallelism of interleave .*adds up to 145 rows, but there are 150/)
    }))
})
