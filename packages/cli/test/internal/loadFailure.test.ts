/**
 * A pipeline module that cannot be imported is reported in the user's code,
 * not against the config file that names it: a syntax error at its file,
 * line and column, in the entry module or a module it imports; a throw at
 * load at the line that threw.
 */
import { appendFileSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, copyProject, manifestKeys } from "../helpers.ts"

const lines = (file: string) => readFileSync(file, "utf8").split("\n").length

describe("a pipeline module that does not load", () => {
  it.live("a syntax error in a module the pipeline imports names that file, its line and column (exit 2)", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const file = Path.join(dir, "src/train.ts")
      appendFileSync(file, "\nexport const oops = (;\n")
      const line = lines(file) - 1
      const result = yield* cli(["run", dir])
      assert.strictEqual(result.status, 2, result.stderr)
      assert.match(result.stderr, new RegExp(`^error: ${Path.join(dir, "src/train.ts").replace(/[.]/g, "\\.")}:${line}:22: syntax error: `))
      assert.notInclude(result.stderr, "project_config.yaml")
      assert.deepStrictEqual(manifestKeys(dir), [])
    }))

  it.live("a syntax error in the entry module itself", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const file = Path.join(dir, "src/pipeline.ts")
      appendFileSync(file, "\nconst x = {\n")
      const result = yield* cli(["run", Path.basename(dir)], { cwd: Path.dirname(dir) })
      assert.strictEqual(result.status, 2, result.stderr)
      assert.match(result.stderr, new RegExp(`^error: ${Path.basename(dir)}/src/pipeline\\.ts:${lines(file)}:\\d+: syntax error: `))
    }))

  it.live("a module throwing while it loads: the module, the line that threw, the error and the user's frames", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const file = Path.join(dir, "src/prepare.ts")
      appendFileSync(file, "\nconst readWeights = () => {\n  throw new Error(\"no weights file\")\n}\nreadWeights()\n")
      const total = lines(file)
      const result = yield* cli(["run", Path.basename(dir)], { cwd: Path.dirname(dir) })
      assert.strictEqual(result.status, 2, result.stderr)
      assert.include(result.stderr, `error: ${Path.basename(dir)}/src/prepare.ts:${total - 3}:9: threw while loading: no weights file`)
      assert.include(result.stderr, `at readWeights (src/prepare.ts:${total - 3}:9)`)
      assert.include(result.stderr, `at src/prepare.ts:${total - 1}:1`)
    }))
})
