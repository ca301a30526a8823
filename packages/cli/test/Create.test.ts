import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, editConfig, linkNodeModules, run, tempDir, TEST_EPOCHS } from "./helpers.ts"

describe("expops create", () => {
  it.live("copies the quick-start template into a new folder that runs", () =>
    Effect.gen(function*() {
      const parent = tempDir()
      const created = yield* cli(["create", "my-project"], { cwd: parent })
      assert.strictEqual(created.status, 0, created.stderr)
      // Outside any node_modules that hold @expops/core: install, then run.
      assert.match(created.stdout, /cd my-project\n {2}npm install\n {2}npx expops run \./)
      const dir = Path.join(parent, "my-project")
      for (const file of ["configs/project_config.yaml", "src/pipeline.ts", "data/iris.csv", "README.md", ".gitignore", "package.json"]) {
        assert.isTrue(existsSync(Path.join(dir, file)), file)
      }
      assert.isFalse(existsSync(Path.join(dir, ".expops")))
      const pkg = JSON.parse(readFileSync(Path.join(dir, "package.json"), "utf8"))
      assert.strictEqual(pkg.name, "my-project")
      assert.match(pkg.dependencies["@expops/core"], /^\^\d+\.\d+\.\d+$/)
      assert.match(pkg.devDependencies["@expops/cli"], /^\^\d+\.\d+\.\d+$/)
      assert.isDefined(pkg.dependencies.effect)
      const config = readFileSync(Path.join(dir, "configs/project_config.yaml"), "utf8")
      assert.match(config, /name: my-project/)
      assert.match(config, /# The quick-start project/, "comments are kept")

      linkNodeModules(dir)
      editConfig(dir, /epochs: \d+/, `epochs: ${TEST_EPOCHS}`)
      const first = yield* run(dir)
      assert.strictEqual(first.status, 0, first.stderr)
      assert.isTrue(first.report.processes.every((p) => p.status === "executed"))
    }))

  it.live("the fanout template builds on the quick start: its modules are copied in, its imports made local, and it runs", () =>
    Effect.gen(function*() {
      const parent = tempDir()
      const created = yield* cli(["create", "study", "--template", "fanout"], { cwd: parent })
      assert.strictEqual(created.status, 0, created.stderr)
      const dir = Path.join(parent, "study")
      for (const file of ["src/pipeline.ts", "src/interleave.ts", "src/summarise.ts", "src/train.ts", "src/schemas.ts", "data/iris.csv", ".gitignore"]) {
        assert.isTrue(existsSync(Path.join(dir, file)), file)
      }
      const pipeline = readFileSync(Path.join(dir, "src/pipeline.ts"), "utf8")
      assert.include(pipeline, `import { trainModel } from "./train.ts"`)
      assert.notInclude(pipeline + readFileSync(Path.join(dir, "src/interleave.ts"), "utf8"), `"../../quickstart/`)
      // The fan-out example's own README and config, not the quick start's.
      assert.match(readFileSync(Path.join(dir, "README.md"), "utf8"), /^# Fan-out/)
      assert.match(readFileSync(Path.join(dir, "configs/project_config.yaml"), "utf8"), /name: study[\s\S]*seed_parallelism/)
      const pkg = JSON.parse(readFileSync(Path.join(dir, "package.json"), "utf8"))
      assert.strictEqual(pkg.name, "study")
      assert.isUndefined(pkg.expops)

      linkNodeModules(dir)
      editConfig(dir, /epochs: \d+/, "epochs: 50")
      const first = yield* run(dir)
      assert.strictEqual(first.status, 0, first.stderr)
      assert.strictEqual(first.report.processes.filter((p) => p.base === "train_model").length, 15)
    }))

  it.live("inside a folder whose node_modules hold @expops/core, says to run it as it is", () =>
    Effect.gen(function*() {
      const parent = tempDir()
      linkNodeModules(parent)
      const created = yield* cli(["create", "inner"], { cwd: parent })
      assert.strictEqual(created.status, 0, created.stderr)
      assert.match(created.stdout, /npx expops run inner/)
      assert.notMatch(created.stdout, /npm install/)
    }))

  it.live("refuses a folder that is not empty, and an unknown template (exit 2)", () =>
    Effect.gen(function*() {
      const parent = tempDir()
      mkdirSync(Path.join(parent, "taken"))
      writeFileSync(Path.join(parent, "taken/notes.txt"), "mine")
      const taken = yield* cli(["create", "taken"], { cwd: parent })
      assert.strictEqual(taken.status, 2)
      assert.match(taken.stderr, /taken is not empty/)
      assert.strictEqual(readFileSync(Path.join(parent, "taken/notes.txt"), "utf8"), "mine")

      mkdirSync(Path.join(parent, "empty"))
      assert.strictEqual((yield* cli(["create", "empty"], { cwd: parent })).status, 0)

      const unknown = yield* cli(["create", "other", "--template", "nope"], { cwd: parent })
      assert.strictEqual(unknown.status, 2)
      assert.match(unknown.stderr, /no template nope \(templates: .*quickstart/)
      assert.isFalse(existsSync(Path.join(parent, "other")))
    }))
})
