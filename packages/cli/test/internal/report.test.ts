import { assert, describe, it } from "@effect/vitest"
import type { RunReport } from "@expops/core"
import * as Ansi from "../../src/internal/ansi.ts"
import * as Report from "../../src/internal/report.ts"

const plain = Ansi.paint(false)

const report = (status: "success" | "failed", processes: RunReport.RunReport["processes"]): RunReport.RunReport => ({
  run: { id: "20261126T233204Z-3fa9c1", pipeline: "p", status, seed: 42, backend: "local", startedAt: 0, durationMs: 12 },
  processes
})

const stepsLine = (r: RunReport.RunReport) => Report.summary(r, plain).split("\n").find((l) => l.startsWith("  steps:"))

describe("Report.summary", () => {
  it("a run served whole from the cache says no step ran because of it", () => {
    const cached = report("success", [{ name: "load", status: "cached", key: "a".repeat(64), durationMs: 1, savedMs: 40, steps: [] }])
    assert.strictEqual(stepsLine(cached), "  steps:     none ran (every process was served from the cache)")
  })

  it("a failed run in which no step ran does not claim the cache served it", () => {
    const failed = report("failed", [
      { name: "load", status: "failed", key: "a".repeat(64), durationMs: 3, steps: [], error: "data/iris.csv: no such file" },
      { name: "train", status: "skipped", key: "", durationMs: 0, steps: [], error: "upstream load did not succeed" }
    ])
    const text = Report.summary(failed, plain)
    assert.strictEqual(stepsLine(failed), "  steps:     none ran")
    assert.notInclude(text, "served from the cache")
    assert.include(text, "load failed: data/iris.csv: no such file")
    assert.include(text, "skipped: train")
  })

  it("processes that ran without calling a step are not reported as served from the cache", () => {
    const executed = report("success", [{ name: "load", status: "executed", key: "a".repeat(64), durationMs: 3, steps: [] }])
    assert.strictEqual(stepsLine(executed), "  steps:     none ran")
  })

  it("counts the steps that ran", () => {
    const ran = report("success", [{
      name: "load",
      status: "executed",
      key: "a".repeat(64),
      durationMs: 3,
      steps: [{ name: "parse", status: "executed", key: "b".repeat(64), durationMs: 1 }, { name: "check", status: "cached", key: "c".repeat(64), durationMs: 0 }]
    }])
    assert.strictEqual(stepsLine(ran), "  steps:     1 executed, 1 cached")
  })
})

describe("runs waiting on one another", () => {
  const waited = report("success", [
    { name: "load", status: "cached", key: "a".repeat(64), durationMs: 2, savedMs: 40, steps: [] },
    { name: "train", status: "cached", key: "b".repeat(64), durationMs: 1_210, savedMs: 1_150, waitedMs: 1_200, steps: [] },
    {
      name: "score",
      status: "executed",
      key: "c".repeat(64),
      durationMs: 900,
      steps: [{ name: "fit", status: "executed", key: "d".repeat(64), durationMs: 700, waitedMs: 300 }]
    }
  ])

  it("the summary says how often and how long the run waited on others", () => {
    assert.include(Report.summary(waited, plain), "  waited on other runs computing the same keys: 2 times, 1.50 s in all")
    assert.notInclude(Report.summary(report("success", []), plain), "waited")
  })

  it("runs show lists each wait beside its process or step", () => {
    const lines = Report.details(waited, plain).split("\n")
    assert.match(lines.find((l) => l.includes("train"))!, /cached +1\.21 s +bbbbbbbbbbbb +waited 1\.20 s on another run, saved 1\.15 s$/)
    assert.match(lines.find((l) => l.includes("  fit"))!, /executed +700 ms +dddddddddddd +waited 300 ms on another run$/)
    assert.match(lines.find((l) => l.includes("load"))!, /saved 40 ms$/)
  })
})
