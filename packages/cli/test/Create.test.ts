import { spawnSync } from "node:child_process"
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, editConfig, executedSteps, linkNodeModules, repoRoot, run, tempDir, TEST_EPOCHS } from "./helpers.ts"

/** The relative link targets of a markdown file that do not exist beside it. */
const danglingLinks = (file: string): Array<string> =>
  [...readFileSync(file, "utf8").matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((href) => !/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith("#"))
    .filter((href) => !existsSync(Path.resolve(Path.dirname(file), href.replace(/#.*$/, ""))))

describe("expops create", () => {
  it.live("outside the checkout: links this checkout's packages, runs cold then from the cache, and type-checks", () =>
    Effect.gen(function*() {
      // A temporary folder: outside the repository, no node_modules on the way up.
      const parent = tempDir()
      const created = yield* cli(["create", "my-project"], { cwd: parent })
      assert.strictEqual(created.status, 0, created.stderr)
      assert.match(created.stdout, /linked from this checkout \(the @expops packages are not on the npm registry yet\): @expops\/core, @expops\/cli, effect, typescript, @types\/node, node/)
      assert.match(created.stdout, /next:\n {2}cd my-project\n {2}npx expops run \. +# .*\n {2}npm run typecheck/)
      const dir = Path.join(parent, "my-project")
      for (const file of ["configs/project_config.yaml", "src/pipeline.ts", "data/iris.csv", "README.md", ".gitignore", "package.json", "tsconfig.json"]) {
        assert.isTrue(existsSync(Path.join(dir, file)), file)
      }
      assert.isFalse(existsSync(Path.join(dir, ".expops")))
      assert.strictEqual(realpathSync(Path.join(dir, "node_modules/@expops/core")), Path.join(repoRoot, "packages/core"))
      assert.isTrue(lstatSync(Path.join(dir, "node_modules/.bin/expops")).isSymbolicLink())
      const pkg = JSON.parse(readFileSync(Path.join(dir, "package.json"), "utf8"))
      assert.strictEqual(pkg.name, "my-project")
      // What package.json says is what node_modules holds: `npm install` links the same folders.
      assert.strictEqual(pkg.dependencies["@expops/core"], `file:${Path.join(repoRoot, "packages/core")}`)
      assert.strictEqual(pkg.devDependencies["@expops/cli"], `file:${Path.join(repoRoot, "packages/cli")}`)
      assert.isDefined(pkg.dependencies.effect)
      const config = readFileSync(Path.join(dir, "configs/project_config.yaml"), "utf8")
      assert.match(config, /name: my-project/)
      assert.match(config, /# The quick-start project/, "comments are kept")
      const readme = readFileSync(Path.join(dir, "README.md"), "utf8")
      assert.match(readme, /^# my-project\n/)
      assert.include(readme, "npx expops run .")
      assert.include(readme, "## The pipeline")
      assert.deepStrictEqual(danglingLinks(Path.join(dir, "README.md")), [])

      editConfig(dir, /epochs: \d+/, `epochs: ${TEST_EPOCHS}`)
      const cold = yield* run(dir)
      assert.strictEqual(cold.status, 0, cold.stderr)
      assert.isTrue(cold.report.processes.every((p) => p.status === "executed"))
      const warm = yield* run(dir)
      assert.isTrue(warm.report.processes.every((p) => p.status === "cached"))
      assert.deepStrictEqual(executedSteps(warm.report), [])

      // `npm run typecheck` as the user runs it: tsc and the types of @expops/core and effect through the links.
      const typecheck = spawnSync("npm", ["run", "typecheck"], { cwd: dir, encoding: "utf8" })
      assert.strictEqual(typecheck.status, 0, `${typecheck.stdout}\n${typecheck.stderr}`)
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
      // The fan-out example's own README sections (under the project's heading, as create writes it) and config, not the quick start's.
      const readme = readFileSync(Path.join(dir, "README.md"), "utf8")
      assert.match(readme, /^# study\n/)
      assert.include(readme, "from the `fanout` template")
      assert.match(readme, /## The pipeline[\s\S]*3 partitions × 5 seeds = 15 branches/)
      assert.match(readFileSync(Path.join(dir, "configs/project_config.yaml"), "utf8"), /name: study[\s\S]*seed_parallelism/)
      const pkg = JSON.parse(readFileSync(Path.join(dir, "package.json"), "utf8"))
      assert.strictEqual(pkg.name, "study")
      assert.isUndefined(pkg.expops)

      // Outside the checkout: create linked this checkout's packages into its node_modules.
      assert.strictEqual(realpathSync(Path.join(dir, "node_modules/@expops/core")), Path.join(repoRoot, "packages/core"))
      editConfig(dir, /epochs: \d+/, "epochs: 50")
      const first = yield* run(dir)
      assert.strictEqual(first.status, 0, first.stderr)
      assert.strictEqual(first.report.processes.filter((p) => p.base === "train_model").length, 15)
    }))

  it.live("inside a folder whose node_modules hold @expops/core, links nothing: the project runs as it is", () =>
    Effect.gen(function*() {
      const parent = tempDir()
      linkNodeModules(parent)
      const created = yield* cli(["create", "inner"], { cwd: parent })
      assert.strictEqual(created.status, 0, created.stderr)
      assert.match(created.stdout, /cd inner\n {2}npx expops run \. +# @expops\/core and effect come from the enclosing node_modules/)
      assert.notMatch(created.stdout, /npm install|linked/)
      assert.isFalse(existsSync(Path.join(parent, "inner/node_modules")))
      const pkg = JSON.parse(readFileSync(Path.join(parent, "inner/package.json"), "utf8"))
      assert.match(pkg.dependencies["@expops/core"], /^\^\d+\.\d+\.\d+$/)
      assert.match(pkg.devDependencies["@expops/cli"], /^\^\d+\.\d+\.\d+$/)
    }))

  it.live("refuses a folder that is not empty, and an unknown template (exit 2); --help lists the templates", () =>
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

      const help = yield* cli(["create", "--help"])
      assert.match(help.stdout, /The template to start from: quickstart/)
    }))
})
