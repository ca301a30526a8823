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

  it("names the part of the code closure that changed: a helper, a constant, a step, a package, the body", () => {
    const part = (kind: string, name: string, digest: string, file?: string) => ({ kind, name, digest, file })
    const before: Recipe.Recipe = {
      ...base,
      codeParts: [
        part("body", "process train_model", "b1", "src/train.ts"),
        part("definition", "process train_model", "d1", "src/train.ts"),
        part("helper", "softmax", "h1", "src/train.ts"),
        part("constant", "SPECIES", "k1", "src/schemas.ts"),
        part("step", "fit", "f1", "src/train.ts"),
        part("package", "ml-matrix", "6.10.0")
      ]
    }
    const edited: Recipe.Recipe = {
      ...before,
      code: "c2",
      codeParts: [
        part("body", "process train_model", "b1", "src/train.ts"),
        part("definition", "process train_model", "d1", "src/train.ts"),
        part("helper", "softmax", "h2", "src/train.ts"),
        part("constant", "SPECIES", "k2", "src/schemas.ts"),
        part("step", "fit", "f1", "src/train.ts"),
        part("step", "score", "s1", "src/train.ts"),
        part("package", "ml-matrix", "6.11.0")
      ]
    }
    assert.deepStrictEqual(Explain.diff(before, edited).map((c) => [c.part, c.message]), [
      ["package", "package `ml-matrix` 6.10.0 -> 6.11.0"],
      ["code", "constant `SPECIES` (src/schemas.ts) changed"],
      ["step", "process `train_model` now uses step `score` (src/train.ts)"],
      ["code", "helper `softmax` (src/train.ts) changed"]
    ])
    const bodyOnly: Recipe.Recipe = {
      ...before,
      code: "c3",
      codeParts: before.codeParts!.map((p) => (p.kind === "body" ? { ...p, digest: "b2" } : p)).filter((p) => p.name !== "fit")
    }
    assert.deepStrictEqual(Explain.diff(before, bodyOnly).map((c) => c.message), [
      "process `train_model` no longer uses step `fit` (src/train.ts)",
      "code of process `train_model` changed"
    ])
    // An entry written before code closures has no parts: the code changed, nothing more is known.
    assert.deepStrictEqual(Explain.diff({ ...base, codeParts: undefined }, edited).map((c) => c.message), ["code of process `train_model` changed"])
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

describe("Explain with traces", () => {
  const trace = (files: Array<[string, string]>, random: boolean, seed = 42) => ({ files: files.map(([path, digest]) => ({ path, digest })), random, seed })

  it("names the files that changed or went missing, and who read them", () => {
    const before = trace([["data/extra.json", "d1"], ["data/lookup.json", "d2"], ["data/same.txt", "d3"]], false)
    const after = trace([["data/extra.json", "d9"], ["data/lookup.json", "absent"], ["data/same.txt", "d3"]], false)
    assert.deepStrictEqual(Explain.diff(base, base, { before, after }).map((c) => [c.part, c.message, c.path]), [
      ["file", "file data/extra.json changed (read by process `train_model`)", "data/extra.json"],
      ["file", "file data/lookup.json is missing (read by process `train_model`)", "data/lookup.json"]
    ])
  })

  it("a new seed is news only when the earlier entry drew random numbers", () => {
    const seven: Recipe.Recipe = { ...base, seed: 7, rootSeed: 7 }
    const from42 = { ...base, rootSeed: 42 }
    assert.deepStrictEqual(Explain.diff(from42, seven, { before: trace([], false), after: trace([], false, 7) }), [])
    assert.deepStrictEqual(Explain.diff(from42, seven, { before: trace([], true), after: trace([], true, 7) }).map((c) => c.message), ["seed changed (42 -> 7)"])
  })

  it("the data file is named once, as the data file", () => {
    const after: Recipe.Recipe = { ...base, data: "d2" }
    const traces = {
      before: trace([["data/iris.csv", "d1"], ["data/iris.csv.notes", "n1"]], false),
      after: trace([["data/iris.csv", "d2"], ["data/iris.csv.notes", "n2"]], false)
    }
    // A file whose name only begins like the data file's is still named.
    assert.deepStrictEqual(Explain.diff(base, after, traces).map((c) => c.message), [
      "file data/iris.csv.notes changed (read by process `train_model`)",
      "data file data/iris.csv changed"
    ])
  })
})
