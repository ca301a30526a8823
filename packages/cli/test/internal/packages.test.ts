/**
 * A project's code and the CLI share one `effect` and one `@expops/core`:
 * a project with none installed gets the CLI's (and its keys count their
 * versions), a copy that does not fit is an error naming both versions.
 * (The executable adopting a project's own copies: bin.test.ts.)
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { satisfies } from "../../src/internal/packages.ts"
import { cli, copyProject, hardLinkTree, json, manifestKeys, repoRoot, run } from "../helpers.ts"

const effectVersion: string = JSON.parse(readFileSync(Path.join(repoRoot, "node_modules/effect/package.json"), "utf8")).version

describe("shared packages", () => {
  it("reads caret ranges as npm does", () => {
    assert.isTrue(satisfies("4.1.0", "^4.1.0"))
    assert.isTrue(satisfies("4.3.2", "^4.1.0"))
    assert.isFalse(satisfies("4.0.9", "^4.1.0"))
    assert.isFalse(satisfies("5.0.0", "^4.1.0"))
    assert.isFalse(satisfies("3.19.0", "^4.1.0"))
    assert.isTrue(satisfies("0.1.7", "^0.1.0"))
    assert.isFalse(satisfies("0.2.0", "^0.1.0"))
  })

  it.live("a project with no node_modules runs on the CLI's packages, and its keys count their versions", () =>
    Effect.gen(function*() {
      const dir = copyProject(undefined, { linked: false })
      const first = yield* run(dir)
      assert.strictEqual(first.status, 0, first.stderr)
      assert.isTrue(first.report.processes.every((p) => p.status === "executed"))
      const explained = yield* json(["explain", dir, "train_model"])
      const parts = explained.explanations[0].recipe.codeParts as Array<{ kind: string; name: string; digest: string }>
      assert.deepInclude(parts, { kind: "package", name: "effect", digest: effectVersion })
      assert.deepInclude(parts, { kind: "package", name: "@expops/core", digest: "0.1.0" })
      const second = yield* run(dir)
      assert.isTrue(second.report.processes.every((p) => p.status === "cached"))
    }))

  it.live("a copy of effect that expops does not work with is an error naming both versions, before anything runs (exit 2)", () =>
    Effect.gen(function*() {
      const dir = copyProject(undefined, { linked: false })
      mkdirSync(Path.join(dir, "node_modules/effect"), { recursive: true })
      writeFileSync(Path.join(dir, "node_modules/effect/package.json"), JSON.stringify({ name: "effect", version: "3.19.0", type: "module", exports: "./index.js" }))
      writeFileSync(Path.join(dir, "node_modules/effect/index.js"), "throw new Error('never loaded')\n")
      const result = yield* cli(["run", dir])
      assert.strictEqual(result.status, 2, result.stderr)
      assert.include(result.stderr, "the project has effect 3.19.0")
      assert.include(result.stderr, `works with effect ^4.1.0 (its own is ${effectVersion}`)
      assert.include(result.stderr, "npm install effect@^4.1.0")
      assert.deepStrictEqual(manifestKeys(dir), [])
    }))

  it.live("in a process that has loaded its own effect, a project's other copy is refused, saying to use the executable", () =>
    Effect.gen(function*() {
      const dir = copyProject(undefined, { linked: false })
      hardLinkTree(Path.join(repoRoot, "node_modules/effect"), Path.join(dir, "node_modules/effect"))
      const result = yield* cli(["run", dir])
      assert.strictEqual(result.status, 2, result.stderr)
      assert.match(result.stderr, /the project has its own effect .* two copies cannot share services and schemas: run the project with the expops executable/)
    }))
})
