import { existsSync, rmSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, configPath, copyProject, editConfig, manifestKeys, run } from "./helpers.ts"

const FILE = /project_config\.yaml/

/** Runs `expops run` on a project whose config was just broken; checks exit 2 and that nothing was written. */
const expectBadConfig = (dir: string, ...patterns: Array<RegExp>) =>
  Effect.gen(function*() {
    const before = manifestKeys(dir)
    const hadCache = existsSync(Path.join(dir, ".expops"))
    const result = yield* cli(["run", dir, "--json"])
    assert.strictEqual(result.status, 2, `exit code; stderr:\n${result.stderr}`)
    assert.strictEqual(result.stdout, "", "nothing on stdout")
    for (const pattern of patterns) assert.match(result.stderr, pattern)
    assert.deepStrictEqual(manifestKeys(dir), before, "the cache is unchanged")
    if (!hadCache) assert.isFalse(existsSync(Path.join(dir, ".expops")), "no cache folder was created")
    return result.stderr
  })

describe("expops run with a bad config", () => {
  it.live("malformed YAML: the file and the line", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "  seed: 42", "  seed: [42")
      yield* expectBadConfig(dir, FILE, /project_config\.yaml:9: malformed YAML/)
    }))

  it.live("an unknown key: its path, line and the nearest valid key", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "  seed: 42", "  sed: 42")
      yield* expectBadConfig(dir, /project_config\.yaml:8: reproducibility\.sed: unknown key; did you mean `seed`\?/)
    }))

  it.live("a wrong type: the path, what was expected and what was found", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "  seed: 42", "  seed: 4.5")
      yield* expectBadConfig(dir, /project_config\.yaml:8: reproducibility\.seed: expected an integer, found number 4\.5/)
      editConfig(dir, "  seed: 4.5", "  seed: forty-two")
      yield* expectBadConfig(dir, /project_config\.yaml:8: reproducibility\.seed: expected an integer, found string "forty-two"/)
    }))

  it.live("an unknown backend: the allowed values", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "backend: local", "backend: s3")
      yield* expectBadConfig(dir, /project_config\.yaml:14: model\.parameters\.cache\.backend: expected "local" \| "gcs", found string "s3"/)
    }))

  it.live("scripts.main names a missing file", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "main: src/pipeline.ts", "main: src/pipline.ts")
      yield* expectBadConfig(dir, /project_config\.yaml:6: scripts\.main: src\/pipline\.ts: no such file/)
    }))

  it.live("scripts.main left out, and the default module missing", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, /scripts:\n  main: src\/pipeline\.ts.*\n/, "")
      rmSync(Path.join(dir, "src/pipeline.ts"))
      yield* expectBadConfig(dir, /scripts\.main: src\/pipeline\.ts \(the default; set scripts\.main to change it\): no such file/)
    }))

  it.live("scripts.main without a Pipeline default export: the path and what was found", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "main: src/pipeline.ts", "main: src/schemas.ts")
      yield* expectBadConfig(dir, /scripts\.main: src\/schemas\.ts has no default export.*found exports: .*Dataset/)
      writeFileSync(Path.join(dir, "src/other.ts"), "export default { name: 'not a pipeline' }\n")
      editConfig(dir, "main: src/schemas.ts", "main: src/other.ts")
      yield* expectBadConfig(dir, /scripts\.main: the default export of src\/other\.ts must be a Pipeline made with Pipeline\.make, found an object with keys name/)
    }))

  it.live("backend: gcs without its gcs section says what is missing", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "backend: local", "backend: gcs")
      yield* expectBadConfig(dir, /project_config\.yaml:13: model\.parameters\.cache\.gcs: is required when backend is gcs/)
    }))

  it.live("process parameters the process does not accept: the process entry's line", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "learning_rate: 0.05", "learning_rate: fast")
      yield* expectBadConfig(dir, /project_config\.yaml:29: model\.parameters\.pipeline\.processes\.2\.parameters\.learning_rate: parameters of process train_model/)
    }))

  it.live("parameters for a process the pipeline does not have: the entry's name and line", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "- name: load_data", "- name: load_dta")
      yield* expectBadConfig(dir, /project_config\.yaml:21: model\.parameters\.pipeline\.processes\.0\.name: parameters are given for unknown process load_dta/)
    }))

  it.live("an unknown process in the adjacency list", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, "train_model evaluate\n", "train_model evaluate\n        evaluate report\n")
      yield* expectBadConfig(dir, /process_adjlist: edge evaluate -> report names unknown process report/)
    }))

  it.live("`experiment:` is accepted as an alias of `model:`, and errors name it as written", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      editConfig(dir, /^model:/m, "experiment:")
      const ok = yield* run(dir)
      assert.strictEqual(ok.status, 0, ok.stderr)
      editConfig(dir, "learning_rate: 0.05", "learning_rat: 0.05")
      yield* expectBadConfig(dir, /project_config\.yaml:29: experiment\.parameters\.pipeline\.processes\.2\.parameters\.learning_rat: .*train_model/)
    }))

  it.live("a bad config after good runs loses nothing: the next good run is all cached", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      editConfig(dir, "  seed: 42", "  seed: [42")
      yield* expectBadConfig(dir, FILE)
      editConfig(dir, "  seed: [42", "  seed: 42")
      const again = yield* run(dir)
      assert.isTrue(again.report.processes.every((p) => p.status === "cached"))
    }))

  it.live("a folder that is not a project, and bad flags, exit 2", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      rmSync(configPath(dir))
      const noConfig = yield* cli(["run", dir])
      assert.strictEqual(noConfig.status, 2)
      assert.match(noConfig.stderr, /not an ExpOps project \(no configs\/project_config\.yaml in it\)/)
      const badFlag = yield* cli(["run", dir, "--backend", "s3"])
      assert.strictEqual(badFlag.status, 2)
      assert.match(badFlag.stderr, /"local" \| "gcs"/)
      const badConcurrency = yield* cli(["run", dir, "--concurrency", "0"])
      assert.strictEqual(badConcurrency.status, 2)
      const missing = yield* cli(["run"])
      assert.strictEqual(missing.status, 2)
      assert.strictEqual(missing.stdout, "")
    }))
})
