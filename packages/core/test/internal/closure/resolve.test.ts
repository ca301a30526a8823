/**
 * Where a bare import leads for a project with no `node_modules` of its own:
 * to the package the module loader falls back to (the CLI's, through its
 * hooks), counted by the version of that copy, as Node loads it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { reset, resolve, setFallbacks } from "../../../src/internal/closure/resolve.ts"

const repo = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../../../..")
const effect = Path.join(repo, "node_modules/effect")
const effectVersion: string = JSON.parse(readFileSync(Path.join(effect, "package.json"), "utf8")).version

// Outside the repository: no node_modules on the way up from it.
const dir = mkdtempSync(Path.join(tmpdir(), "expops-resolve-"))
afterAll(() => {
  setFallbacks({})
  reset()
  rmSync(dir, { recursive: true, force: true })
})

describe("resolve", () => {
  it("counts a package the loader falls back to by that copy's version, and a project's own copy before it", () => {
    const file = Path.join(dir, "src/main.ts")
    mkdirSync(Path.dirname(file), { recursive: true })
    writeFileSync(file, "import { Effect } from \"effect\"\n")
    reset()
    assert.deepStrictEqual(resolve(file, "effect"), { _tag: "Unresolved", specifier: "effect" })

    setFallbacks({ effect })
    assert.deepStrictEqual(resolve(file, "effect"), { _tag: "Package", name: "effect", version: effectVersion })
    assert.deepStrictEqual(resolve(file, "effect/Schema"), { _tag: "Package", name: "effect", version: effectVersion })

    // A copy installed in the project is what Node finds first, fallback or not.
    mkdirSync(Path.join(dir, "node_modules/effect"), { recursive: true })
    writeFileSync(Path.join(dir, "node_modules/effect/package.json"), JSON.stringify({ name: "effect", version: "4.9.9" }))
    reset()
    assert.deepStrictEqual(resolve(file, "effect"), { _tag: "Package", name: "effect", version: "4.9.9" })
  })
})
