import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, copyProject, editConfig, json, run } from "./helpers.ts"

describe("expops runs", () => {
  it.live("ls lists past runs newest first with status, duration, hits and misses; show gives one run with its metrics", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const empty = yield* cli(["runs", "ls", dir])
      assert.strictEqual(empty.status, 0)
      assert.match(empty.stdout, /no runs recorded yet/)

      const first = yield* run(dir)
      const second = yield* run(dir)
      editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.1")
      const third = yield* run(dir, "--seed", "3")

      const runs = yield* json<Array<any>>(["runs", "ls", dir])
      assert.deepStrictEqual(runs.map((r: any) => r.id), [third, second, first].map((r) => r.report.run.id))
      assert.deepStrictEqual(runs[2].processes, { executed: 4 })
      assert.deepStrictEqual(runs[1].processes, { cached: 4 })
      assert.deepStrictEqual(runs[1].steps, {})
      assert.strictEqual(runs[0].seed, 3)
      assert.strictEqual(runs[0].status, "success")

      const table = yield* cli(["runs", "ls", dir])
      assert.match(table.stdout, /RUN +STARTED +STATUS +DURATION +SEED +PROCESSES +STEPS/)
      assert.include(table.stdout, first.report.run.id)
      assert.match(table.stdout, /4 cached/)
      assert.strictEqual((yield* cli(["runs", "ls", dir, "--limit", "1", "--json"])).stdout.includes(first.report.run.id), false)
      const zero = yield* cli(["runs", "ls", dir, "--limit", "0"])
      assert.strictEqual(zero.status, 2)
      assert.match(zero.stderr, /--limit must be at least 1 \(got 0\)/)

      // show: the last run by default, or the one named; the stored report is the one printed by run --json.
      const last = yield* json(["runs", "show", dir])
      assert.deepStrictEqual(last, third.report)
      const named = yield* json(["runs", "show", dir, first.report.run.id])
      assert.deepStrictEqual(named, first.report)
      const text = yield* cli(["runs", "show", dir, first.report.run.id])
      assert.match(text.stdout, /train_model +executed/)
      assert.match(text.stdout, /  fit +executed/)
      assert.match(text.stdout, /METRIC +PROCESS \/ STEP +LAST VALUE/)
      assert.match(text.stdout, /accuracy +evaluate\/scores/)
      assert.match(text.stdout, /accuracy +evaluate\/scores +[\d.]+ +1 +1 +in this run/)
      // The second run, served from the cache, has the metrics of the entries it was served, marked as such.
      const served = yield* json(["runs", "show", dir, second.report.run.id])
      assert.deepStrictEqual(served.metrics, first.report.metrics!.map((m) => ({ ...m, cached: true })))
      const servedText = yield* cli(["runs", "show", dir, second.report.run.id])
      assert.match(servedText.stdout, /accuracy +evaluate\/scores +[\d.]+ +1 +1 +by the cached entry/)

      // compare: what differs first (the parameter, the keys it changed, the statuses), then what is the same.
      const compared = yield* json(["runs", "compare", dir, first.report.run.id, third.report.run.id])
      assert.strictEqual(compared.a.id, first.report.run.id)
      const differs = compared.rows.filter((r: any) => !r.same).map((r: any) => `${r.kind} ${r.what}`)
      assert.includeMembers(differs, ["run seed", "parameter train_model.learning_rate", "key train_model", "status load_data"])
      // load_data draws no random number: the other seed was served its entry, under the same key.
      assert.notInclude(differs, "key load_data")
      assert.isTrue(compared.rows.findIndex((r: any) => r.same) >= differs.length, "what differs comes first")
      assert.deepInclude(compared.rows, { kind: "parameter", what: "train_model.learning_rate", a: 0.05, b: 0.1, same: false })
      assert.deepInclude(compared.rows, { kind: "parameter", what: "prepare.test_size", a: 0.2, b: 0.2, same: true })
      assert.isTrue(compared.rows.some((r: any) => r.kind === "metric" && r.what === "accuracy (evaluate/scores)"))
      const side = yield* cli(["runs", "compare", dir, first.report.run.id, third.report.run.id])
      assert.strictEqual(side.status, 0, side.stderr)
      assert.match(side.stdout, new RegExp(` +A ${first.report.run.id} +B ${third.report.run.id}\\ndiffers \\(\\d+\\):\\n`))
      assert.match(side.stdout, /  parameter train_model\.learning_rate +0\.05 +0\.1\n/)
      assert.match(side.stdout, /the same:\n(.*\n)*  parameter prepare\.test_size +0\.2 +0\.2/)
      // The cached run's metrics are marked as served with their entries.
      const cachedSide = yield* cli(["runs", "compare", dir, first.report.run.id, second.report.run.id])
      assert.match(cachedSide.stdout, /metric accuracy \(evaluate\/scores\) +[\d.]+ +[\d.]+ \(cached\)/)
      const missing = yield* cli(["runs", "compare", dir, first.report.run.id, "no-such-run"])
      assert.strictEqual(missing.status, 2)
      assert.match(missing.stderr, /no run no-such-run/)

      const unknown = yield* cli(["runs", "show", dir, "no-such-run"])
      assert.strictEqual(unknown.status, 2)
      assert.match(unknown.stderr, /no run no-such-run/)
    }))

  it.live("explain without any run, or for an unknown process, says what to do (exit 2)", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const none = yield* cli(["explain", dir, "train_model"])
      assert.strictEqual(none.status, 2)
      assert.match(none.stderr, /no runs are recorded .* yet; run `expops run/)
      yield* run(dir)
      const unknown = yield* cli(["explain", dir, "trian_model"])
      assert.strictEqual(unknown.status, 2)
      assert.match(unknown.stderr, /has no process trian_model; did you mean train_model\? \(processes: load_data, prepare, train_model, evaluate\)/)
      const step = yield* cli(["explain", dir, "train_model/fitt"])
      assert.strictEqual(step.status, 2)
      assert.match(step.stderr, /ran no step fitt .*\(steps: init_weights, fit, training_accuracy\)/)
      const first = yield* cli(["explain", dir, "train_model"])
      assert.match(first.stdout, /a miss: no earlier entry named train_model exists/)
    }))
})
