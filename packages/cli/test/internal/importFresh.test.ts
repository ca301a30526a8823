import { mkdirSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { importFresh } from "../../src/internal/importFresh.ts"
import { tempDir } from "../helpers.ts"

/** A project folder whose entry imports a module of its own, one from its node_modules and one from outside it. */
const project = () => {
  const root = tempDir()
  const dir = Path.join(root, "project")
  mkdirSync(Path.join(dir, "src"), { recursive: true })
  mkdirSync(Path.join(dir, "node_modules/dep"), { recursive: true })
  writeFileSync(Path.join(dir, "node_modules/dep/package.json"), JSON.stringify({ name: "dep", type: "module", exports: "./index.js" }))
  writeFileSync(Path.join(dir, "node_modules/dep/index.js"), "export const dep = {}\n")
  writeFileSync(Path.join(root, "outside.ts"), "export const outside = {}\n")
  writeFileSync(Path.join(dir, "src/value.ts"), "export const value: number = 1\n")
  writeFileSync(
    Path.join(dir, "src/main.ts"),
    "import { dep } from 'dep'\nimport { outside } from '../../outside.ts'\nimport { value } from './value.ts'\nexport default { dep, outside, value }\n"
  )
  return { dir, main: Path.join(dir, "src/main.ts") }
}

describe("importFresh", () => {
  it("a project imported again sees its edited modules, and shares what lies outside it or in node_modules", async () => {
    const { dir, main } = project()
    const first = (await importFresh(main, dir)).default as { dep: object; outside: object; value: number }
    assert.strictEqual(first.value, 1)
    writeFileSync(Path.join(dir, "src/value.ts"), "export const value: number = 2\n")
    const second = (await importFresh(main, dir)).default as typeof first
    assert.strictEqual(second.value, 2)
    assert.strictEqual(second.dep, first.dep, "packages are loaded once")
    assert.strictEqual(second.outside, first.outside, "modules outside the project folder are loaded once")
    writeFileSync(Path.join(dir, "src/value.ts"), "export const value: number = 3\n")
    assert.strictEqual(((await importFresh(main, dir)).default as typeof first).value, 3)
  })
})
