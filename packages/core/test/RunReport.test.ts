import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { RunReport } from "@expops/core"

const report = (processes: ReadonlyArray<Partial<RunReport.ProcessReport> & { name: string }>): RunReport.RunReport => ({
  run: { id: "r1", pipeline: "p", status: "success", seed: 42, backend: "memory", startedAt: 0, durationMs: 1 },
  processes: processes.map((p) => ({ status: "executed", key: "", durationMs: 0, steps: [], ...p }))
})

describe("RunReport.findProcesses", () => {
  const run = report([
    { name: "prepare" },
    { name: "train_seed1", base: "train", branch: { seed: 1 } },
    { name: "train_seed2", base: "train", branch: { seed: 2 } },
    { name: "train_seed3", base: "train", branch: { seed: 3 } },
    { name: "train_seed4", base: "train", branch: { seed: 4 } }
  ])

  it.effect("a process by its name, a branch by its own, and every branch by its process's", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* RunReport.findProcesses(run, "prepare")).map((p) => p.name), ["prepare"])
      assert.deepStrictEqual((yield* RunReport.findProcesses(run, "train_seed2")).map((p) => p.name), ["train_seed2"])
      assert.deepStrictEqual((yield* RunReport.findProcesses(run, "train")).map((p) => p.name), ["train_seed1", "train_seed2", "train_seed3", "train_seed4"])
    }))

  it.effect("an unknown name: the processes the run has, branches under their process, and the nearest name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(RunReport.findProcesses(run, "trian"))
      assert.strictEqual(error._tag, "ProcessNotFoundError")
      assert.strictEqual(
        error.message,
        "run r1 has no process trian; did you mean train? (processes: prepare, train (4 branches: train_seed1, train_seed2, …, train_seed4))"
      )
      assert.isUndefined((yield* Effect.flip(RunReport.findProcesses(run, "zzzzzz"))).suggestion)
    }))
})
