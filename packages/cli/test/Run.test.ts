import { existsSync, readFileSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { cli, copyProject, editConfig, editFile, executedSteps, manifestKeys, run, statuses, stepStatuses } from "./helpers.ts"

const ALL = ["load_data", "prepare", "train_model", "evaluate"]
const explain = (dir: string, target: string) => {
  const result = cli(["explain", dir, target, "--json"])
  assert.strictEqual(result.status, 0, result.stderr)
  return JSON.parse(result.stdout) as { explanations: Array<{ status: string; summary: string; changes: Array<{ part: string; message: string }> }> }
}
const changes = (dir: string, target: string) => explain(dir, target).explanations.flatMap((e) => e.changes.map((c) => c.message))

describe("expops run", () => {
  it("runs everything cold, then serves every process from the cache without running a step", () => {
    const dir = copyProject()
    const cold = run(dir)
    assert.strictEqual(cold.status, 0, cold.stderr)
    assert.deepStrictEqual(statuses(cold.report), Object.fromEntries(ALL.map((n) => [n, "executed"])))
    assert.isTrue(cold.report.processes.every((p) => p.steps.length >= 3 && p.steps.every((s) => s.status === "executed")))
    assert.strictEqual(cold.report.run.status, "success")
    assert.strictEqual(cold.report.run.backend, "local")
    assert.strictEqual(cold.report.run.seed, 42)
    assert.match(cold.report.processes[0]!.key, /^[0-9a-f]{64}$/)
    // Metrics logged by the example's steps are in the report.
    const metricNames = new Set(cold.report.metrics?.map((m) => m.name))
    for (const name of ["rows", "loss", "train_accuracy", "accuracy"]) assert.isTrue(metricNames.has(name), name)
    // Progress and the summary went to stderr, as plain lines.
    assert.match(cold.stderr, /train_model: executed/)
    assert.notMatch(cold.stderr, /\x1b\[/)

    const warm = run(dir)
    assert.strictEqual(warm.status, 0, warm.stderr)
    assert.deepStrictEqual(statuses(warm.report), Object.fromEntries(ALL.map((n) => [n, "cached"])))
    for (const p of warm.report.processes) {
      assert.deepStrictEqual(p.steps, [])
      assert.isAbove(p.savedMs ?? 0, 0)
    }
    assert.deepStrictEqual(warm.report.processes.map((p) => p.key), cold.report.processes.map((p) => p.key))
  })

  it("prints a summary on stdout without --json, with no control codes when not on a terminal", () => {
    const dir = copyProject()
    const result = cli(["run", dir])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /processes: 4 executed/)
    assert.match(result.stdout, /steps: +14 executed/)
    const again = cli(["run", dir])
    assert.match(again.stdout, /processes: 4 cached/)
    assert.match(again.stdout, /time saved by the cache: /)
    assert.notMatch(result.stdout + again.stdout, /\x1b/)
  })

  it("a train_model parameter re-runs train_model and evaluate only, and explain names it", () => {
    const dir = copyProject()
    const first = run(dir)
    editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.1")
    const second = run(dir)
    assert.strictEqual(second.status, 0, second.stderr)
    assert.deepStrictEqual(statuses(second.report), { load_data: "cached", prepare: "cached", train_model: "executed", evaluate: "executed" })
    // The initial weights do not depend on the learning rate: served from the step cache.
    assert.strictEqual(stepStatuses(second.report)["train_model/init_weights"], "cached")
    assert.strictEqual(stepStatuses(second.report)["train_model/fit"], "executed")
    assert.notStrictEqual(second.report.processes[2]!.key, first.report.processes[2]!.key)

    assert.deepStrictEqual(changes(dir, "train_model"), ["parameter `learning_rate` 0.05 -> 0.1"])
    assert.deepStrictEqual(changes(dir, "train_model/fit"), ["config `learning_rate` 0.05 -> 0.1"])
    assert.deepStrictEqual(changes(dir, "evaluate"), ["input `model` changed (from upstream `train_model`)"])
    assert.match(explain(dir, "load_data").explanations[0]!.summary, /^a hit/)

    const text = cli(["explain", dir, "train_model"])
    assert.strictEqual(text.status, 0)
    assert.match(text.stdout, /parameter `learning_rate` 0\.05 -> 0\.1/)
    assert.match(text.stdout, /recipe:/)
    assert.match(text.stdout, /train +[0-9a-f]{12} +from upstream prepare/)
  })

  it("a changed data file re-runs load_data; downstream steps run only if its output changed", () => {
    const dir = copyProject()
    run(dir)
    const data = Path.join(dir, "data/iris.csv")
    // A blank line at the end: the text changed, the rows did not.
    writeFileSync(data, readFileSync(data, "utf8") + "\n")
    const blank = run(dir)
    assert.strictEqual(blank.status, 0, blank.stderr)
    assert.strictEqual(statuses(blank.report).load_data, "executed")
    assert.deepStrictEqual(executedSteps(blank.report), ["load_data/parse_csv"])
    assert.deepStrictEqual(changes(dir, "load_data"), ["data file data/iris.csv changed"])
    assert.deepStrictEqual(changes(dir, "load_data/parse_csv"), ["input changed"])

    // A measurement changed: everything downstream runs again.
    editFile(data, "5.1,3.5,1.4,0.2,setosa", "5.2,3.5,1.4,0.2,setosa")
    const edited = run(dir)
    assert.strictEqual(edited.status, 0, edited.stderr)
    assert.deepStrictEqual(statuses(edited.report), Object.fromEntries(ALL.map((n) => [n, "executed"])))
    assert.include(executedSteps(edited.report), "load_data/validate")
    assert.include(executedSteps(edited.report), "prepare/shuffle")
    assert.include(changes(dir, "prepare"), "input `rows` changed (from upstream `load_data`)")
  })

  it("--seed 7 re-runs everything; going back to the config seed hits the earlier entries", () => {
    const dir = copyProject()
    const first = run(dir)
    const seven = run(dir, "--seed", "7")
    assert.strictEqual(seven.status, 0, seven.stderr)
    assert.strictEqual(seven.report.run.seed, 7)
    assert.deepStrictEqual(statuses(seven.report), Object.fromEntries(ALL.map((n) => [n, "executed"])))
    assert.match(changes(dir, "load_data")[0]!, /^seed changed \(\d+ -> \d+\)$/)
    assert.match(changes(dir, "train_model/fit").join("\n"), /seed changed/)
    const back = run(dir)
    assert.deepStrictEqual(statuses(back.report), Object.fromEntries(ALL.map((n) => [n, "cached"])))
    assert.deepStrictEqual(back.report.processes.map((p) => p.key), first.report.processes.map((p) => p.key))
  })

  it("a code change re-runs what changed, and explain says so", () => {
    const dir = copyProject()
    run(dir)
    const train = Path.join(dir, "src/train.ts")
    // The process's own body: the process runs again; its unchanged steps are served from the cache.
    editFile(train, "features: train[0]?.features.length ?? 0", "features: train[0]?.features.length ?? 4")
    const processEdit = run(dir)
    assert.strictEqual(processEdit.status, 0, processEdit.stderr)
    assert.deepStrictEqual(statuses(processEdit.report), { load_data: "cached", prepare: "cached", train_model: "executed", evaluate: "cached" })
    assert.deepStrictEqual(executedSteps(processEdit.report), [])
    assert.deepStrictEqual(changes(dir, "train_model"), ["code of process `train_model` changed"])

    // A step's body: when its process runs, the step runs again.
    editFile(train, "const every = Math.max(1, Math.floor(epochs / 50))", "const every = Math.max(1, Math.floor(epochs / 25))")
    editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.1")
    const stepEdit = run(dir)
    assert.strictEqual(stepStatuses(stepEdit.report)["train_model/fit"], "executed")
    assert.deepStrictEqual(changes(dir, "train_model/fit"), ["code of step `fit` changed", "config `learning_rate` 0.05 -> 0.1"])
  })

  it("editing only a step's body re-runs its process and only that step, and explain names the step", () => {
    const dir = copyProject()
    run(dir)
    editFile(Path.join(dir, "src/train.ts"), "const every = Math.max(1, Math.floor(epochs / 50))", "const every = Math.max(1, Math.floor(epochs / 25))")
    const edited = run(dir)
    assert.strictEqual(edited.status, 0, edited.stderr)
    assert.strictEqual(statuses(edited.report).train_model, "executed")
    assert.deepStrictEqual(executedSteps(edited.report), ["train_model/fit"])
    assert.deepStrictEqual(changes(dir, "train_model"), ["step `fit` (src/train.ts) changed"])
    assert.deepStrictEqual(changes(dir, "train_model/fit"), ["code of step `fit` changed"])

    // Served whole from the cache: its steps did not run, and a step its code does not reach is an error.
    run(dir)
    assert.match(explain(dir, "train_model/fit").explanations[0]!.summary, /did not run/)
    const typo = cli(["explain", dir, "train_model/fitt"])
    assert.strictEqual(typo.status, 2)
    assert.match(typo.stderr, /process train_model calls no step fitt \(steps its code reaches: .*fit.*\)/)
  })

  it("--dry-run runs nothing and writes no entry", () => {
    const dir = copyProject()
    const cold = run(dir, "--dry-run")
    assert.strictEqual(cold.status, 0, cold.stderr)
    assert.strictEqual(cold.report.run.dryRun, true)
    assert.deepStrictEqual(statuses(cold.report), Object.fromEntries(ALL.map((n) => [n, "would-run"])))
    assert.match(cold.report.processes[1]!.reason ?? "", /load_data/)
    assert.deepStrictEqual(manifestKeys(dir), [])
    assert.strictEqual(JSON.parse(cli(["runs", "ls", dir, "--json"]).stdout).length, 0)

    run(dir)
    const entries = manifestKeys(dir)
    editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.2")
    const dry = run(dir, "--dry-run")
    assert.deepStrictEqual(statuses(dry.report), { load_data: "cached", prepare: "cached", train_model: "would-run", evaluate: "would-run" })
    assert.isTrue(dry.report.processes.every((p) => p.steps.length === 0))
    assert.deepStrictEqual(manifestKeys(dir), entries)
    assert.strictEqual(JSON.parse(cli(["runs", "ls", dir, "--json"]).stdout).length, 1)
  })

  it("--no-cache runs everything and stores nothing", () => {
    const dir = copyProject()
    run(dir)
    const entries = manifestKeys(dir)
    const fresh = run(dir, "--no-cache")
    assert.strictEqual(fresh.status, 0, fresh.stderr)
    assert.deepStrictEqual(statuses(fresh.report), Object.fromEntries(ALL.map((n) => [n, "executed"])))
    assert.deepStrictEqual(manifestKeys(dir), entries)
  })

  it("a failing step exits 1: the report shows it failed, its dependents skipped, and nothing is stored for it", () => {
    const dir = copyProject()
    editFile(Path.join(dir, "data/iris.csv"), "4.9,3,1.4,0.2,setosa", "4.9,three,1.4,0.2,setosa")
    const failed = run(dir)
    assert.strictEqual(failed.status, 1, failed.stderr)
    assert.strictEqual(failed.report.run.status, "failed")
    assert.deepStrictEqual(statuses(failed.report), { load_data: "failed", prepare: "skipped", train_model: "skipped", evaluate: "skipped" })
    const load = failed.report.processes[0]!
    assert.deepStrictEqual(load.steps.map((s) => [s.name, s.status]), [["parse_csv", "executed"], ["validate", "failed"]])
    assert.match(load.error ?? "", /line 3: sepal_width is not a number: "three"/)
    assert.match(failed.stderr, /load_data failed in step validate: line 3/)
    const stored = manifestKeys(dir)
    assert.notInclude(stored, load.steps[1]!.key)
    assert.notInclude(stored, load.key)
    assert.include(stored, load.steps[0]!.key)
    // The run is recorded as failed.
    const runs = JSON.parse(cli(["runs", "ls", dir, "--json"]).stdout)
    assert.strictEqual(runs[0].status, "failed")
    const why = explain(dir, "load_data/validate").explanations[0]!
    assert.match(why.summary, /failed .*nothing was stored/)
  })

  it("runs from any working directory, with paths relative to the project folder", () => {
    const dir = copyProject()
    const result = cli(["run", Path.basename(dir), "--json"], { cwd: Path.dirname(dir) })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.isTrue(existsSync(Path.join(dir, ".expops")))
  })
})
