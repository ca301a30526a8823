import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ConfigDocument from "../../src/internal/configDocument.ts"
import { cli, copyProject } from "../helpers.ts"

const TEXT = [
  "model:", //                1
  "  parameters:", //         2
  "    epochs: 3", //         3
  "    weights: [.inf, -0, .nan]", // 4
  "    steps:", //            5
  "      - name: a", //       6
  "      - name: b", //       7
  "    empty:", //            8
  ""
].join("\n")

const keptFile = () => Path.join(mkdtempSync(Path.join(tmpdir(), "expops-config-")), ".expops", "config-document.bin")

const read = async (text: string, file: string) => {
  const result = await ConfigDocument.read(text, file)
  assert.isTrue("document" in result, "parsed")
  return result as Exclude<typeof result, ConfigDocument.YamlProblem>
}

const PATHS: ReadonlyArray<ReadonlyArray<string | number>> = [
  [],
  ["model"],
  ["model", "parameters", "epochs"],
  ["model", "parameters", "steps", 1, "name"],
  ["model", "parameters", "steps", 4],
  ["model", "parameters", "empty"],
  ["model", "parameters", "missing", "deeper"],
  ["nothing"]
]

describe("the config document kept between commands", () => {
  it("answers as the parser did: the value, whether a path is written, and its line", async () => {
    const file = keptFile()
    const parsed = await read(TEXT, file)
    assert.strictEqual(parsed.document.source, "parsed")
    parsed.keep()
    const kept = await read(TEXT, file)
    assert.strictEqual(kept.document.source, "kept")
    assert.deepStrictEqual(kept.document.value, parsed.document.value)
    for (const path of PATHS) {
      assert.strictEqual(kept.document.has(path), parsed.document.has(path), `has ${path.join(".")}`)
      assert.strictEqual(kept.document.lineOf(path), parsed.document.lineOf(path), `lineOf ${path.join(".")}`)
    }
    assert.strictEqual(kept.document.lineOf(["model", "parameters", "steps", 1, "name"]), 7)
    assert.strictEqual(kept.document.lineOf(["model", "parameters", "missing", "deeper"]), 2, "a missing key at its parent")
    assert.isTrue(kept.document.has(["model", "parameters", "empty"]), "a key without a value is written")
    assert.isFalse(kept.document.has(["model", "parameters", "missing"]))
    // What JSON would lose survives.
    const weights = (kept.document.value as any).model.parameters.weights
    assert.strictEqual(weights[0], Infinity)
    assert.isTrue(Object.is(weights[1], -0))
    assert.isNaN(weights[2])
  })

  it("parses an edited text again, and a damaged copy is no error", async () => {
    const file = keptFile()
    ;(await read(TEXT, file)).keep()
    const edited = await read(TEXT.replace("epochs: 3", "epochs: 4"), file)
    assert.strictEqual(edited.document.source, "parsed")
    assert.strictEqual((edited.document.value as any).model.parameters.epochs, 4)
    writeFileSync(file, readFileSync(file).subarray(0, 10))
    const afterDamage = await read(TEXT, file)
    assert.strictEqual(afterDamage.document.source, "parsed")
    assert.strictEqual((afterDamage.document.value as any).model.parameters.epochs, 3)
  })

  it("malformed YAML is a problem with its line, and nothing is kept", async () => {
    const result = await ConfigDocument.read("a: [1\nb: 2\n", keptFile())
    assert.isFalse("document" in result)
    const problem = result as ConfigDocument.YamlProblem
    assert.isNumber(problem.line)
    assert.match(problem.reason, /flow|sequence|\]/i)
  })

  it.live("a run keeps it, and an error found later still names the line from the kept copy", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const first = yield* cli(["run", dir, "--dry-run"])
      assert.strictEqual(first.status, 0, first.stderr)
      const kept = yield* Effect.promise(() => read(readFileSync(Path.join(dir, "configs/project_config.yaml"), "utf8"), Path.join(dir, ".expops/config-document.bin")))
      assert.strictEqual(kept.document.source, "kept")
      const result = yield* cli(["run", dir, "--backend", "gcs"])
      assert.strictEqual(result.status, 2)
      assert.match(result.stderr, /project_config\.yaml:13: model\.parameters\.cache: --backend gcs needs a gcs section here/)
    }))
})
