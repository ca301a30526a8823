import { existsSync, readFileSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { deserialize, serialize } from "node:v8"
import { assert, describe, it, vi } from "@effect/vitest"
import { Trace } from "@expops/core"
import { Effect } from "effect"
import { cli, copyProject, editConfig, editFile, executedSteps, json, manifestKeys, run, statuses, stepStatuses } from "./helpers.ts"

const ALL = ["load_data", "prepare", "train_model", "evaluate"]

interface Explained {
  readonly explanations: Array<{ status: string; summary: string; changes: Array<{ part: string; message: string }> }>
}
const explain = (dir: string, target: string) => json<Explained>(["explain", dir, target])
const changes = (dir: string, target: string) =>
  Effect.map(explain(dir, target), (e) => e.explanations.flatMap((x) => x.changes.map((c) => c.message)))

describe("expops run", () => {
  it.live("runs everything cold, then serves every process from the cache without running a step", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const cold = yield* run(dir)
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

      const warm = yield* run(dir)
      assert.strictEqual(warm.status, 0, warm.stderr)
      assert.deepStrictEqual(statuses(warm.report), Object.fromEntries(ALL.map((n) => [n, "cached"])))
      for (const p of warm.report.processes) {
        assert.deepStrictEqual(p.steps, [])
        assert.isAbove(p.savedMs ?? 0, 0)
      }
      assert.deepStrictEqual(warm.report.processes.map((p) => p.key), cold.report.processes.map((p) => p.key))
      // Metrics travel with the entries: the cached run ran no step, and has the figures of the entries it was served, marked so.
      assert.deepStrictEqual(warm.report.metrics, cold.report.metrics!.map((m) => ({ ...m, cached: true })))
      assert.match(warm.stderr, /metrics: +rows 150, loss .*accuracy .* \(all from the cache\)/)
    }))

  it.live("prints a summary on stdout without --json, with no control codes when not on a terminal", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const result = yield* cli(["run", dir])
      assert.strictEqual(result.status, 0, result.stderr)
      assert.match(result.stdout, /processes: 4 executed/)
      assert.match(result.stdout, /steps: +14 executed/)
      const again = yield* cli(["run", dir])
      assert.match(again.stdout, /processes: 4 cached/)
      assert.match(again.stdout, /steps: +none ran \(every process was served from the cache\)/)
      assert.match(again.stdout, /time saved by the cache: /)
      assert.notMatch(result.stdout + again.stdout, /\x1b/)
    }))

  it.live("on a terminal, progress is redrawn in place and the summary is coloured; NO_COLOR keeps the redraw, drops the colours", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const live = yield* cli(["run", dir], { terminal: true, env: { NO_COLOR: "" } })
      assert.strictEqual(live.status, 0, live.stderr)
      assert.include(live.stdout, "\x1b[?25l", "hides the cursor while redrawing")
      assert.include(live.stdout, "\x1b[4A", "moves up over its four lines to redraw them")
      assert.include(live.stdout, "\x1b[?25h", "shows the cursor again")
      assert.match(live.stdout, /\x1b\[32msuccess\x1b\[39m/)
      const plain = yield* cli(["run", dir], { terminal: true, env: { NO_COLOR: "1" } })
      assert.include(plain.stdout, "\x1b[4A")
      assert.notMatch(plain.stdout, /\x1b\[\d+m/)
      const dumb = yield* cli(["run", dir], { terminal: true, env: { NO_COLOR: "", TERM: "dumb" } })
      assert.notMatch(dumb.stdout, /\x1b/)
      assert.match(dumb.stdout, /load_data: cached/)
    }))

  it.live("a train_model parameter re-runs train_model and evaluate only, and explain names it", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const first = yield* run(dir)
      editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.1")
      const second = yield* run(dir)
      assert.strictEqual(second.status, 0, second.stderr)
      assert.deepStrictEqual(statuses(second.report), { load_data: "cached", prepare: "cached", train_model: "executed", evaluate: "executed" })
      // The initial weights do not depend on the learning rate: served from the step cache.
      assert.strictEqual(stepStatuses(second.report)["train_model/init_weights"], "cached")
      assert.strictEqual(stepStatuses(second.report)["train_model/fit"], "executed")
      assert.notStrictEqual(second.report.processes[2]!.key, first.report.processes[2]!.key)

      assert.deepStrictEqual(yield* changes(dir, "train_model"), ["parameter `learning_rate` 0.05 -> 0.1"])
      assert.deepStrictEqual(yield* changes(dir, "train_model/fit"), ["config `learning_rate` 0.05 -> 0.1"])
      assert.deepStrictEqual(yield* changes(dir, "evaluate"), ["input `model` changed (from upstream `train_model`)"])
      assert.match((yield* explain(dir, "load_data")).explanations[0]!.summary, /^a hit/)

      const text = yield* cli(["explain", dir, "train_model"])
      assert.strictEqual(text.status, 0)
      assert.match(text.stdout, /parameter `learning_rate` 0\.05 -> 0\.1/)
      assert.match(text.stdout, /recipe:/)
      assert.match(text.stdout, /train +[0-9a-f]{12} +from upstream prepare/)
    }))

  it.live("a changed data file re-runs load_data; downstream steps run only if its output changed", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const cold = yield* run(dir)
      const data = Path.join(dir, "data/iris.csv")
      // A blank line at the end: the text changed, the rows did not.
      writeFileSync(data, readFileSync(data, "utf8") + "\n")
      const blank = yield* run(dir)
      assert.strictEqual(blank.status, 0, blank.stderr)
      assert.strictEqual(statuses(blank.report).load_data, "executed")
      assert.deepStrictEqual(executedSteps(blank.report), ["load_data/parse_csv"])
      assert.deepStrictEqual(yield* changes(dir, "load_data"), ["data file data/iris.csv changed"])
      assert.deepStrictEqual(yield* changes(dir, "load_data/parse_csv"), ["input changed"])
      // The processes ran, their steps were served: the test accuracy is in the run, from the cached step that logged it.
      const accuracy = blank.report.metrics?.find((m) => m.name === "accuracy")
      assert.deepStrictEqual(accuracy, { ...cold.report.metrics!.find((m) => m.name === "accuracy")!, cached: true })

      // A measurement changed: everything downstream runs again.
      editFile(data, "5.1,3.5,1.4,0.2,setosa", "5.2,3.5,1.4,0.2,setosa")
      const edited = yield* run(dir)
      assert.strictEqual(edited.status, 0, edited.stderr)
      assert.deepStrictEqual(statuses(edited.report), Object.fromEntries(ALL.map((n) => [n, "executed"])))
      assert.include(executedSteps(edited.report), "load_data/validate")
      assert.include(executedSteps(edited.report), "prepare/shuffle")
      assert.include(yield* changes(dir, "prepare"), "input `rows` changed (from upstream `load_data`)")
    }))

  it.live("the data file's digest is kept for the next run by its signature, and not trusted once the file changed", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const data = Path.join(dir, "data/iris.csv")
      const kept = Path.join(dir, ".expops/file-digests.bin")
      // A run that stores nothing keeps nothing.
      yield* run(dir, "--no-cache")
      assert.isFalse(existsSync(kept))
      // As if the copy had been made long before this run: digests of files changed in the last 2 s are not kept.
      vi.useFakeTimers({ toFake: ["Date"] })
      vi.setSystemTime(Date.now() + 10_000)
      try {
        yield* run(dir)
        const stored = deserialize(readFileSync(kept)) as [string, Array<Array<unknown>>]
        assert.include(stored[1].map((row) => row[0]), data)
        // A new process: only what was kept is known. Unchanged, the data file is not read again.
        Trace.clearDigests()
        assert.deepStrictEqual(Object.values(statuses((yield* run(dir)).report)), ["cached", "cached", "cached", "cached"])
        // What the run uses is the kept digest, trusted by the file's signature: one changed by hand changes every key.
        writeFileSync(kept, serialize([stored[0], stored[1].map((row) => (row[0] === data ? [...row.slice(0, 5), "0".repeat(64)] : row))]))
        Trace.clearDigests()
        assert.strictEqual(statuses((yield* run(dir)).report).load_data, "executed")
        writeFileSync(kept, serialize(stored))
        Trace.clearDigests()
        assert.strictEqual(statuses((yield* run(dir)).report).load_data, "cached")
        editFile(data, "5.1,3.5,1.4,0.2,setosa", "5.2,3.5,1.4,0.2,setosa")
        Trace.clearDigests()
        assert.strictEqual(statuses((yield* run(dir)).report).load_data, "executed")
      } finally {
        vi.useRealTimers()
      }
    }))

  it.live("--seed 7 re-runs what draws random numbers, serves load_data across seeds; going back to the config seed hits the earlier entries", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const first = yield* run(dir)
      const seven = yield* run(dir, "--seed", "7")
      assert.strictEqual(seven.status, 0, seven.stderr)
      assert.strictEqual(seven.report.run.seed, 7)
      // load_data reads and parses: no random number, so its entry holds for any seed. prepare shuffles, train_model initialises at random.
      assert.deepStrictEqual(statuses(seven.report), { load_data: "cached", prepare: "executed", train_model: "executed", evaluate: "executed" })
      assert.match((yield* explain(dir, "load_data")).explanations[0]!.summary, /seed not used: served across seeds$/)
      assert.deepStrictEqual(yield* changes(dir, "prepare"), ["seed changed (42 -> 7)"])
      assert.match((yield* changes(dir, "train_model/fit")).join("\n"), /seed changed/)
      const back = yield* run(dir)
      assert.deepStrictEqual(statuses(back.report), Object.fromEntries(ALL.map((n) => [n, "cached"])))
      assert.deepStrictEqual(back.report.processes.map((p) => p.key), first.report.processes.map((p) => p.key))
    }))

  it.live("a code change re-runs what changed, and explain says so", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const train = Path.join(dir, "src/train.ts")
      // The process's own body: the process runs again; its unchanged steps are served from the cache.
      editFile(train, "features: train[0]?.features.length ?? 0", "features: train[0]?.features.length ?? 4")
      const processEdit = yield* run(dir)
      assert.strictEqual(processEdit.status, 0, processEdit.stderr)
      assert.deepStrictEqual(statuses(processEdit.report), { load_data: "cached", prepare: "cached", train_model: "executed", evaluate: "cached" })
      assert.deepStrictEqual(executedSteps(processEdit.report), [])
      assert.deepStrictEqual(yield* changes(dir, "train_model"), ["code of process `train_model` changed"])

      // A step's body: when its process runs, the step runs again.
      editFile(train, "const every = Math.max(1, Math.floor(epochs / 50))", "const every = Math.max(1, Math.floor(epochs / 25))")
      editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.1")
      const stepEdit = yield* run(dir)
      assert.strictEqual(stepStatuses(stepEdit.report)["train_model/fit"], "executed")
      assert.deepStrictEqual(yield* changes(dir, "train_model/fit"), ["code of step `fit` changed", "config `learning_rate` 0.05 -> 0.1"])
    }))

  it.live("editing only a step's body re-runs its process and only that step, and explain names the step", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      editFile(Path.join(dir, "src/train.ts"), "const every = Math.max(1, Math.floor(epochs / 50))", "const every = Math.max(1, Math.floor(epochs / 25))")
      const edited = yield* run(dir)
      assert.strictEqual(edited.status, 0, edited.stderr)
      assert.strictEqual(statuses(edited.report).train_model, "executed")
      assert.deepStrictEqual(executedSteps(edited.report), ["train_model/fit"])
      assert.deepStrictEqual(yield* changes(dir, "train_model"), ["step `fit` (src/train.ts) changed"])
      assert.deepStrictEqual(yield* changes(dir, "train_model/fit"), ["code of step `fit` changed"])

      // Served whole from the cache: its steps did not run, and a step its code does not reach is an error.
      yield* run(dir)
      assert.match((yield* explain(dir, "train_model/fit")).explanations[0]!.summary, /did not run/)
      const typo = yield* cli(["explain", dir, "train_model/fitt"])
      assert.strictEqual(typo.status, 2)
      assert.match(typo.stderr, /process train_model calls no step fitt \(steps its code reaches: .*fit.*\)/)
    }))

  it.live("--dry-run runs nothing and writes no entry", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const cold = yield* run(dir, "--dry-run")
      assert.strictEqual(cold.status, 0, cold.stderr)
      assert.strictEqual(cold.report.run.dryRun, true)
      assert.deepStrictEqual(statuses(cold.report), Object.fromEntries(ALL.map((n) => [n, "would-run"])))
      assert.match(cold.report.processes[1]!.reason ?? "", /load_data/)
      assert.deepStrictEqual(manifestKeys(dir), [])
      assert.strictEqual((yield* json<Array<unknown>>(["runs", "ls", dir])).length, 0)

      yield* run(dir)
      const entries = manifestKeys(dir)
      editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.2")
      const dry = yield* run(dir, "--dry-run")
      assert.deepStrictEqual(statuses(dry.report), { load_data: "cached", prepare: "cached", train_model: "would-run", evaluate: "would-run" })
      assert.isTrue(dry.report.processes.every((p) => p.steps.length === 0))
      assert.deepStrictEqual(manifestKeys(dir), entries)
      assert.strictEqual((yield* json<Array<unknown>>(["runs", "ls", dir])).length, 1)
    }))

  it.live("--no-cache runs everything and stores nothing", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const entries = manifestKeys(dir)
      const fresh = yield* run(dir, "--no-cache")
      assert.strictEqual(fresh.status, 0, fresh.stderr)
      assert.deepStrictEqual(statuses(fresh.report), Object.fromEntries(ALL.map((n) => [n, "executed"])))
      assert.deepStrictEqual(manifestKeys(dir), entries)
    }))

  it.live("a failing step exits 1: the report shows it failed, its dependents skipped, and nothing is stored for it", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editFile(Path.join(dir, "data/iris.csv"), "4.9,3,1.4,0.2,setosa", "4.9,three,1.4,0.2,setosa")
      const failed = yield* run(dir)
      assert.strictEqual(failed.status, 1, failed.stderr)
      assert.strictEqual(failed.report.run.status, "failed")
      assert.deepStrictEqual(statuses(failed.report), { load_data: "failed", prepare: "skipped", train_model: "skipped", evaluate: "skipped" })
      const load = failed.report.processes[0]!
      assert.deepStrictEqual(load.steps.map((s) => [s.name, s.status]), [["parse_csv", "executed"], ["validate", "failed"]])
      assert.match(load.error ?? "", /line 3: sepal_width is not a number: "three"/)
      assert.match(failed.stderr, /load_data failed in step validate: line 3/)
      // A tagged error keeps its tag and fields, and where the user's code raised it.
      const validate = load.steps[1]!
      assert.strictEqual(validate.errorTag, "InvalidData")
      assert.deepStrictEqual(validate.errorFields, { line: 3, reason: "sepal_width is not a number: \"three\"" })
      const line = readFileSync(Path.join(dir, "src/load.ts"), "utf8").split("\n").findIndex((l) => l.includes("is not a number")) + 1
      assert.match(validate.location ?? "", new RegExp(`^src/load\\.ts:${line}:\\d+$`))
      assert.strictEqual(load.location, validate.location)
      const stored = manifestKeys(dir)
      assert.notInclude(stored, load.steps[1]!.key)
      assert.notInclude(stored, load.key)
      assert.include(stored, load.steps[0]!.key)
      // The run is recorded as failed.
      const runs = yield* json<Array<{ status: string }>>(["runs", "ls", dir])
      assert.strictEqual(runs[0]!.status, "failed")
      const why = (yield* explain(dir, "load_data/validate")).explanations[0]!
      assert.match(why.summary, /failed .*nothing was stored/)
    }))

  it.live("a step throwing a TypeError: its message and its place in src/train.ts on stderr, in the report, in runs show and in explain", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const file = Path.join(dir, "src/train.ts")
      editFile(file, "const correct = train.filter", "const broken: any = undefined\n    broken.field.value = 1\n    const correct = train.filter")
      const line = readFileSync(file, "utf8").split("\n").findIndex((l) => l.includes("broken.field.value")) + 1
      const at = `src/train.ts:${line}:12`
      const failed = yield* run(dir)
      assert.strictEqual(failed.status, 1, failed.stderr)
      const train = failed.report.processes.find((p) => p.name === "train_model")!
      const step = train.steps.find((s) => s.status === "failed")!
      assert.strictEqual(step.name, "training_accuracy")
      assert.strictEqual(step.error, "TypeError: Cannot read properties of undefined (reading 'field')")
      assert.strictEqual(step.location, at)
      assert.strictEqual(train.location, at)
      // The user's frames only: none of Effect's, Node's or the framework's.
      assert.match(step.stack ?? "", new RegExp(`^TypeError: Cannot read properties of undefined \\(reading 'field'\\)\n {4}at .*\\(${at}\\)`))
      assert.notMatch(step.stack ?? "", /node_modules|node:|packages\/core/)
      assert.include(failed.stderr, `train_model: failed after`)
      assert.include(failed.stderr, `(${at})`)
      assert.match(failed.stderr, new RegExp(`train_model failed in step training_accuracy: TypeError: .*\n {4}at .*${at}`))

      const shown = yield* cli(["runs", "show", dir])
      assert.match(shown.stdout, new RegExp(`train_model/training_accuracy failed: TypeError: .*\n {4}at .*${at}`))
      const why = (yield* explain(dir, "train_model/training_accuracy")).explanations[0]!
      assert.include(why.summary, `failed at ${at} (TypeError: Cannot read properties of undefined (reading 'field'))`)
      const explained = yield* cli(["explain", dir, "train_model/training_accuracy"])
      assert.include(explained.stdout, `(${at})`)
    }))

  it.live("a process failing before its first step: the summary does not say the cache served the run", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "file: data/iris.csv", "file: data/missing.csv")
      const failed = yield* cli(["run", dir])
      assert.strictEqual(failed.status, 1, failed.stderr)
      assert.match(failed.stdout, /: failed in /)
      assert.match(failed.stdout, /processes: 1 failed, 3 skipped/)
      assert.match(failed.stdout, /steps: +none ran\n/)
      assert.notMatch(failed.stdout, /served from the cache/)
      assert.match(failed.stdout, /load_data failed: .*data\/missing\.csv/)
    }))

  it.live("the project folder is resolved against the working directory the command is given", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const result = yield* cli(["run", Path.basename(dir), "--json"], { cwd: Path.dirname(dir) })
      assert.strictEqual(result.status, 0, result.stderr)
      assert.isTrue(existsSync(Path.join(dir, ".expops")))
      // Messages name files relative to it.
      editConfig(dir, "  seed: 42", "  seed: [42")
      const bad = yield* cli(["run", Path.basename(dir)], { cwd: Path.dirname(dir) })
      assert.strictEqual(bad.status, 2)
      assert.match(bad.stderr, new RegExp(`^error: ${Path.basename(dir)}/configs/project_config\\.yaml:9: malformed YAML`))
    }))
})
