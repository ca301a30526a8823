import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, copyProject, editConfig, json, run } from "./helpers.ts"

describe("expops show", () => {
  it.live("prints the stored outputs of a process or step of the last run: large arrays summarised, in full with --json", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const cold = yield* run(dir)
      assert.strictEqual(cold.status, 0, cold.stderr)

      const evaluate = yield* cli(["show", dir, "evaluate"])
      assert.strictEqual(evaluate.status, 0, evaluate.stderr)
      assert.match(evaluate.stdout, new RegExp(`^process evaluate · run ${cold.report.run.id} · executed\nkey [0-9a-f]{64} · written .* to compute\noutput:\n  accuracy: [\\d.]+\n  confusion:\n    - \\[\\d+, \\d+, \\d+\\]\n`))
      assert.match(evaluate.stdout, /metrics: accuracy [\d.]+ \(scores\)/)

      const prepare = yield* cli(["show", dir, "prepare"])
      assert.match(prepare.stdout, /  train:\n    - features: \[[-\d., ]+\]\n      label: 0\n/)
      assert.include(prepare.stdout, "… 115 more (120 items)")
      const full = yield* json(["show", dir, "prepare"])
      assert.strictEqual(full.run, cold.report.run.id)
      assert.strictEqual(full.entries[0].key, cold.report.processes[1]!.key)
      assert.strictEqual(full.entries[0].output.train.length, 120)
      assert.strictEqual(full.entries[0].output.test.length, 30)

      // A step of a process that ran; the fitted model.
      const fit = yield* json(["show", dir, "train_model/fit"])
      assert.deepStrictEqual(Object.keys(fit.entries[0].output), ["weights", "bias"])
      assert.strictEqual(fit.entries[0].kind, "step")
      assert.strictEqual(fit.entries[0].process, "train_model")
      assert.strictEqual(fit.entries[0].metrics.filter((m: { name: string }) => m.name === "loss").length, 50)
    }))

  it.live("a cached run shows the entries it was served; a step of a process served whole points at the process; --run picks a run", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const cold = yield* run(dir)
      editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.1")
      const changed = yield* run(dir)
      const before = yield* json(["show", dir, "train_model", "--run", cold.report.run.id])
      const after = yield* json(["show", dir, "train_model"])
      assert.notDeepEqual(before.entries[0].output, after.entries[0].output)
      const served = yield* json(["show", dir, "prepare"])
      assert.strictEqual(served.entries[0].status, "cached")
      assert.strictEqual(served.run, changed.report.run.id)

      const step = yield* cli(["show", dir, "prepare/split"])
      assert.strictEqual(step.status, 2)
      assert.include(step.stderr, `step split did not run in run ${changed.report.run.id}: process prepare was served whole from the cache; \`expops show`)
      const unknown = yield* cli(["show", dir, "nope"])
      assert.strictEqual(unknown.status, 2)
      assert.match(unknown.stderr, /has no process nope \(processes: load_data, prepare, train_model, evaluate\)/)
    }))
})
