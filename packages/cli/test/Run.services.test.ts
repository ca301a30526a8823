/**
 * A project with a service of its own: the pipeline module's layer opens an
 * SQLite database that a step reads through `yield* Database`; `expops run`
 * provides it to every body. A service nothing provides is an error before
 * anything runs, and does not type-check.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { SqliteRunStore } from "@expops/backend-local"
import { RunStore } from "@expops/core"
import { Effect } from "effect"
import { cli, copyProject, editFile, manifestKeys, repoRoot, run } from "./helpers.ts"

const shop = Path.resolve(import.meta.dirname, "fixtures/shop")

const typecheck = (dir: string) =>
  spawnSync(process.execPath, [Path.join(repoRoot, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", dir], { encoding: "utf8" })

/** The pipeline module without its layer: neither exported nor given to Pipeline.make. */
const dropLayer = (dir: string) => {
  const file = Path.join(dir, "src/pipeline.ts")
  editFile(file, /export const layer = .*\n/, "")
  editFile(file, "processes: [orders, revenue], layer })", "processes: [orders, revenue] })")
  editFile(file, "import { Database, layerSqlite } from \"./db.ts\"", "import { Database } from \"./db.ts\"")
}

describe("expops run with the services of a project's layer", () => {
  it.live("provides the layer to every body: a step reads the SQLite database it opened; then all is cached", () =>
    Effect.gen(function*() {
      const dir = copyProject(shop)
      const first = yield* run(dir)
      assert.strictEqual(first.status, 0, first.stderr)
      assert.deepStrictEqual(first.report.processes.map((p) => [p.name, p.status]), [["orders", "executed"], ["revenue", "executed"]])
      assert.deepInclude(first.report.metrics ?? [], { name: "revenue", value: 49.75, index: 1, process: "revenue", step: "total" })
      assert.isTrue(existsSync(Path.join(dir, "data/shop.sqlite")), "the layer opened the database in the project folder")
      const second = yield* run(dir)
      assert.isTrue(second.report.processes.every((p) => p.status === "cached"))
      assert.strictEqual(typecheck(dir).status, 0, typecheck(dir).stdout)
    }))

  it.live("a service nothing provides: exit 2 before anything runs, naming it, where it is declared and how to provide it; tsc refuses it too", () =>
    Effect.gen(function*() {
      const dir = copyProject(shop)
      dropLayer(dir)
      const result = yield* cli(["run", dir])
      assert.strictEqual(result.status, 2, result.stderr)
      const line = readFileSync(Path.join(dir, "src/db.ts"), "utf8").split("\n").findIndex((l) => l.includes("export class Database")) + 1
      assert.include(result.stderr, "pipeline shop needs services that nothing provides (see src/pipeline.ts)")
      assert.include(result.stderr, `process orders needs the service shop/Database (Database, src/db.ts:${line}), which nothing provides`)
      assert.include(result.stderr, "give Pipeline.make a `layer` that provides it")
      assert.isFalse(existsSync(Path.join(dir, "data/shop.sqlite")))
      assert.deepStrictEqual(manifestKeys(dir), [])
      const checked = typecheck(dir)
      assert.notStrictEqual(checked.status, 0)
      assert.match(checked.stdout, /Property 'layer' is missing .* required in type '\{ readonly layer: Layer<Database, unknown, never>; \}'/)
    }))

  it.live("a layer exported by the module but not given to Pipeline.make is provided too", () =>
    Effect.gen(function*() {
      const dir = copyProject(shop)
      editFile(Path.join(dir, "src/pipeline.ts"), "processes: [orders, revenue], layer })", "processes: [orders, revenue] } as any)")
      const result = yield* run(dir)
      assert.strictEqual(result.status, 0, result.stderr)
    }))

  it.live("a layer that fails to build: exit 1, its error and where in the user's code, nothing run", () =>
    Effect.gen(function*() {
      const dir = copyProject(shop)
      const file = Path.join(dir, "src/db.ts")
      editFile(file, "const db = new DatabaseSync(file)", "const db = new DatabaseSync(file)\n        if (db) throw new Error(\"the database is locked\")")
      const line = readFileSync(file, "utf8").split("\n").findIndex((l) => l.includes("is locked")) + 1
      const result = yield* cli(["run", dir])
      assert.strictEqual(result.status, 1, result.stderr)
      assert.include(result.stderr, "the layer providing the services of pipeline shop failed to build: the database is locked (src/db.ts:")
      assert.include(result.stderr, `src/db.ts:${line}:`)
      assert.deepStrictEqual(manifestKeys(dir), [])
      // Nothing began: `expops ui` does not list it as a run in progress (its live record starts with its first event).
      const inProgress = yield* RunStore.RunStore.use((runs) => runs.live!.inProgress).pipe(Effect.provide(SqliteRunStore.layerProject(dir)))
      assert.deepStrictEqual(inProgress, [])
    }))
})
