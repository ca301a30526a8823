import * as Path from "node:path"
import { existsSync, writeFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { cli, copyProject, editFile, executedSteps, run, statuses } from "./helpers.ts"

const explainChanges = (dir: string, target: string): Array<string> => {
  const result = cli(["explain", dir, target, "--json"])
  assert.strictEqual(result.status, 0, result.stderr)
  const parsed = JSON.parse(result.stdout) as { explanations: Array<{ changes: Array<{ message: string }> }> }
  return parsed.explanations.flatMap((e) => e.changes.map((c) => c.message))
}

// Through the real binary: the fingerprints must be of the code Node runs.
describe("expops run: keys cover the code closure", () => {
  it("editing the quick start's helper softmax re-runs train_model and evaluate, leaves load_data and prepare cached, and explain names it", () => {
    const dir = copyProject()
    assert.strictEqual(run(dir).status, 0)
    assert.isTrue(existsSync(Path.join(dir, ".expops/code-index.json")), "the analyses are kept for the next run")
    editFile(Path.join(dir, "src/train.ts"), "Math.exp(s - max)", "Math.exp((s - max) * 0.5)")
    const edited = run(dir)
    assert.strictEqual(edited.status, 0, edited.stderr)
    assert.deepStrictEqual(statuses(edited.report), { load_data: "cached", prepare: "cached", train_model: "executed", evaluate: "executed" })
    // Inside them, only the steps that reach softmax: fit, training_accuracy, predict (and what follows from new outputs).
    assert.includeMembers(executedSteps(edited.report), ["train_model/fit", "train_model/training_accuracy", "evaluate/predict"])
    assert.notInclude(executedSteps(edited.report), "train_model/init_weights")
    assert.deepStrictEqual(explainChanges(dir, "train_model"), ["helper `softmax` (src/train.ts) changed"])
    // The quick start's other processes list no steps: they run and hit all the same.
    const again = run(dir)
    assert.deepStrictEqual(statuses(again.report), { load_data: "cached", prepare: "cached", train_model: "cached", evaluate: "cached" })
  })

  it("a non-reproducible call in the closure is a warning naming step and file:line; --strict refuses to run (exit 2)", () => {
    const dir = copyProject()
    editFile(Path.join(dir, "src/train.ts"), "const max = Math.max(...scores)", "const max = Math.max(...scores) + Math.random() * 0")
    const warned = run(dir)
    assert.strictEqual(warned.status, 0, warned.stderr)
    assert.match(warned.stderr, /warning: step fit reaches Math\.random\(\) in helper `softmax` \(src\/train\.ts:\d+:\d+\)/)
    const strict = cli(["run", dir, "--strict"])
    assert.strictEqual(strict.status, 2, strict.stderr)
    assert.match(strict.stderr, /--strict: \d+ definitions are not reproducible:/)
    assert.match(strict.stderr, /step fit reaches Math\.random\(\)/)
  })

  it("a factory-made step reading its argument stops the run at load, naming the variable and where", () => {
    const dir = copyProject()
    writeFileSync(Path.join(dir, "src/factory.ts"), [
      "import { Step } from \"@expops/core\"",
      "import { Schema } from \"effect\"",
      "export const makeScale = (factor: number) =>",
      "  Step.make({ name: \"scale\", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return x * factor } })",
      ""
    ].join("\n"))
    editFile(Path.join(dir, "src/pipeline.ts"), /^/, "import { makeScale } from \"./factory.ts\"\nexport const byTwo = makeScale(2)\n")
    const result = cli(["run", dir])
    assert.strictEqual(result.status, 2, result.stderr)
    assert.match(result.stderr, /step scale \(src\/factory\.ts:4:\d+\): its body reads `factor` from an enclosing function/)
  })
})
