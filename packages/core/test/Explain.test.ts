import { assert, describe, it } from "@effect/vitest"
import { Explain, type Recipe } from "@expops/core"

const base: Recipe.Recipe = {
  kind: "process",
  name: "train_model",
  format: 1,
  code: "c1",
  input: "i1",
  inputParts: { rows: "r1", labels: "l1" },
  inputSources: { rows: "prepare", labels: "prepare" },
  config: "k1",
  configValue: { learning_rate: 0.1, epochs: 100 },
  schemas: { input: "s", output: "o", config: "p" },
  seed: 42,
  data: "d1",
  dataPath: "data/iris.csv"
}

describe("Explain", () => {
  it("says nothing changed for the same recipe", () => {
    assert.deepStrictEqual(Explain.diff(base, base), [])
  })

  it("names each changed part in words", () => {
    const after: Recipe.Recipe = {
      ...base,
      code: "c2",
      input: "i2",
      inputParts: { rows: "r2", labels: "l1" },
      config: "k2",
      configValue: { learning_rate: 0.05, epochs: 100 },
      seed: 7,
      data: "d2"
    }
    assert.deepStrictEqual(Explain.diff(base, after).map((c) => c.message), [
      "code of process `train_model` changed",
      "input `rows` changed (from upstream `prepare`)",
      "parameter `learning_rate` 0.1 -> 0.05",
      "seed changed (42 -> 7)",
      "data file data/iris.csv changed"
    ])
  })

  it("distinguishes a version bump and schema changes", () => {
    const after: Recipe.Recipe = { ...base, code: "c2", version: "2", schemas: { ...base.schemas, output: "o2" } }
    assert.deepStrictEqual(Explain.diff(base, after).map((c) => c.message), [
      "version of process `train_model` changed (none -> 2)",
      "output schema of process `train_model` changed"
    ])
  })

  it("says which declared step changed, and whether the body did", () => {
    const before: Recipe.Recipe = { ...base, codeParts: { body: "b1", steps: { fit: "f1", split: "s1" } } }
    const stepOnly: Recipe.Recipe = { ...base, code: "c2", codeParts: { body: "b1", steps: { fit: "f2", split: "s1", score: "x1" } } }
    assert.deepStrictEqual(Explain.diff(before, stepOnly).map((c) => [c.part, c.message]), [
      ["step", "process `train_model` calls a changed step `fit`"],
      ["step", "process `train_model` now declares step `score`"]
    ])
    const bodyToo: Recipe.Recipe = { ...base, code: "c3", codeParts: { body: "b2", steps: { fit: "f1" } } }
    assert.deepStrictEqual(Explain.diff(before, bodyToo).map((c) => c.message), [
      "code of process `train_model` changed",
      "process `train_model` no longer declares step `split`"
    ])
    // A recipe without parts declared no steps: its code is the body's.
    const firstStep: Recipe.Recipe = { ...base, code: "c4", codeParts: { body: "c1", steps: { fit: "f1" } } }
    assert.deepStrictEqual(Explain.diff(base, firstStep).map((c) => c.message), ["process `train_model` now declares step `fit`"])
  })

  it("does not report a step's new seed when it follows from a new input or config", () => {
    const step: Recipe.Recipe = { ...base, kind: "step", name: "fit", inputSources: undefined, configValue: { rate: 1 } }
    const newInput: Recipe.Recipe = { ...step, input: "i2", inputParts: { rows: "r2", labels: "l1" }, seed: 7 }
    assert.deepStrictEqual(Explain.diff(step, newInput).map((c) => c.part), ["input"])
    const sameInputs: Recipe.Recipe = { ...step, seed: 7 }
    assert.deepStrictEqual(Explain.diff(step, sameInputs).map((c) => c.message), ["seed changed (42 -> 7)"])
    // A new root seed is news even when the input changed too.
    const newRoot: Recipe.Recipe = { ...newInput, rootSeed: 7 }
    assert.deepStrictEqual(Explain.diff({ ...step, rootSeed: 42 }, newRoot).map((c) => c.message), [
      "input `rows` changed",
      "seed changed (42 -> 7)"
    ])
  })

  it("uses `config` for steps", () => {
    const step: Recipe.Recipe = { ...base, kind: "step", name: "fit", inputSources: undefined, configValue: { rate: 1 } }
    const after: Recipe.Recipe = { ...step, config: "k2", configValue: { rate: 2 } }
    assert.deepStrictEqual(Explain.diff(step, after).map((c) => c.message), ["config `rate` 1 -> 2"])
  })
})
