/**
 * The module memo keeps Node's answers across processes, so each case starts
 * plain Node processes (the hooks are per process) on a small file tree: an
 * app importing a relative module and a package by name, and checks that a
 * later start-up answers from the memo and still loads what Node would.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { assert, describe, it } from "vitest"
import { tempDir } from "../helpers.ts"

const memoModule = Path.resolve(import.meta.dirname, "../../src/internal/moduleMemo.ts")

interface Tree {
  readonly root: string
  readonly memo: string
  readonly write: (file: string, text: string) => void
}

/** root/app (type module) imports ./lib/a.js and pkg/b (root/node_modules/pkg, with an `alt` condition). */
const tree = (): Tree => {
  const root = tempDir()
  const write = (file: string, text: string) => {
    mkdirSync(Path.dirname(Path.join(root, file)), { recursive: true })
    writeFileSync(Path.join(root, file), text)
  }
  write("app/package.json", JSON.stringify({ name: "app", type: "module" }))
  write("app/main.js", `import { a } from "./lib/a.js"\nimport { b } from "pkg/b"\nexport const value = a + "," + b\n`)
  write("app/lib/a.js", `export const a = "a1"\n`)
  write("node_modules/pkg/package.json", JSON.stringify({ name: "pkg", version: "1.0.0", type: "module", exports: { "./b": { alt: "./alt.js", default: "./b.js" } } }))
  write("node_modules/pkg/b.js", `export const b = "b1"\n`)
  write("node_modules/pkg/alt.js", `export const b = "alt"\n`)
  write("start.mjs", [
    `const { install, stats } = await import(${JSON.stringify(pathToFileURL(memoModule).href)})`,
    `install(process.env.MEMO)`,
    `try {`,
    `  const { value } = await import(${JSON.stringify(pathToFileURL(Path.join(root, "app/main.js")).href)})`,
    `  console.log(JSON.stringify({ value, stats: stats() }))`,
    `} catch (error) {`,
    `  console.log(JSON.stringify({ error: { code: error.code, message: error.message }, stats: stats() }))`,
    `}`
  ].join("\n"))
  return { root, memo: Path.join(root, "memo", "modules.json"), write }
}

interface Outcome {
  readonly value?: string
  readonly error?: { readonly code: string; readonly message: string }
  readonly stats: { readonly answered: number; readonly resolved: number; readonly dropped: number }
}

/** One start-up of plain Node on the tree, with the memo at `tree.memo`. */
const start = (t: Tree, options: { readonly args?: ReadonlyArray<string>; readonly env?: Record<string, string> } = {}): Outcome => {
  const env: Record<string, string | undefined> = { ...process.env, MEMO: t.memo, ...options.env }
  delete env.NODE_OPTIONS
  const child = spawnSync(process.execPath, [...(options.args ?? []), Path.join(t.root, "start.mjs")], { env, encoding: "utf8", timeout: 20_000 })
  assert.strictEqual(child.status, 0, child.stderr)
  return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Outcome
}

describe("ModuleMemo", () => {
  it("a second start-up answers from the memo and loads the same modules", () => {
    const t = tree()
    const first = start(t)
    assert.strictEqual(first.value, "a1,b1")
    assert.strictEqual(first.stats.answered, 0)
    assert.isTrue(existsSync(t.memo))
    const second = start(t)
    assert.strictEqual(second.value, "a1,b1")
    // ./lib/a.js and pkg/b, answered without Node's resolver (the entry point is imported by its URL).
    assert.strictEqual(second.stats.answered, 2)
    assert.strictEqual(second.stats.resolved, 0)
  })

  it("reads sources afresh: an edited module is loaded as it is now", () => {
    const t = tree()
    start(t)
    t.write("app/lib/a.js", `export const a = "a2"\n`)
    assert.strictEqual(start(t).value, "a2,b1")
  })

  it("a module deleted since is reported missing by Node, naming its importer", () => {
    const t = tree()
    start(t)
    rmSync(Path.join(t.root, "app/lib/a.js"))
    const outcome = start(t)
    assert.strictEqual(outcome.error?.code, "ERR_MODULE_NOT_FOUND")
    assert.include(outcome.error?.message, "main.js")
    assert.isAtLeast(outcome.stats.dropped, 1)
  })

  it("a package whose package.json changed is resolved again (exports pointing elsewhere)", () => {
    const t = tree()
    start(t)
    t.write("node_modules/pkg/package.json", JSON.stringify({ name: "pkg", version: "1.0.1", type: "module", exports: { "./b": "./alt.js" } }))
    const outcome = start(t)
    assert.strictEqual(outcome.value, "a1,alt")
    assert.isAtLeast(outcome.stats.dropped, 1)
  })

  it("a copy installed nearer the importer is the one loaded", () => {
    const t = tree()
    start(t)
    t.write("app/node_modules/pkg/package.json", JSON.stringify({ name: "pkg", version: "2.0.0", type: "module", exports: { "./b": "./b.js" } }))
    t.write("app/node_modules/pkg/b.js", `export const b = "nearer"\n`)
    assert.strictEqual(start(t).value, "a1,nearer")
  })

  it("a module's format follows its package.json (type changed to commonjs)", () => {
    const t = tree()
    start(t)
    t.write("app/package.json", JSON.stringify({ name: "app", type: "commonjs" }))
    t.write("app/lib/a.js", `exports.a = "cjs"\n`)
    // main.js is CommonJS now too.
    t.write("app/main.js", `exports.value = require("./lib/a.js").a + ",cjs"\n`)
    assert.strictEqual(start(t).value, "cjs,cjs")
  })

  it("holds for one set of Node options: --conditions changes what a package name finds", () => {
    const t = tree()
    start(t)
    assert.strictEqual(start(t, { args: ["--conditions=alt"] }).value, "a1,alt")
    assert.strictEqual(start(t).value, "a1,b1")
  })

  it("a package name asked by import and by require keeps an answer for each (exports by condition)", () => {
    const t = tree()
    t.write("node_modules/pkg/package.json", JSON.stringify({
      name: "pkg",
      version: "1.0.0",
      type: "module",
      exports: { "./b": "./b.js", "./c": { import: "./c.js", require: "./c.cjs" } }
    }))
    t.write("node_modules/pkg/c.js", `export const c = "import"\n`)
    t.write("node_modules/pkg/c.cjs", `exports.c = "require"\n`)
    t.write("app/main.js", [
      `import { createRequire } from "node:module"`,
      `import { c } from "pkg/c"`,
      `export const value = c + "," + createRequire(import.meta.url)("pkg/c").c`,
      ``
    ].join("\n"))
    assert.strictEqual(start(t).value, "import,require")
    const second = start(t)
    assert.strictEqual(second.value, "import,require")
    assert.isAtLeast(second.stats.answered, 1)
  })

  it("a relative module reached through a symbolic link is left to Node: it loads as its real path", () => {
    const t = tree()
    // Node loads a linked module under its real path: one instance, whichever path imports it.
    t.write("app/real/a.js", `export const a = import.meta.url.endsWith("/real/a.js") ? "real" : "link"\n`)
    rmSync(Path.join(t.root, "app/lib/a.js"))
    symlinkSync(Path.join(t.root, "app/real/a.js"), Path.join(t.root, "app/lib/a.js"))
    assert.strictEqual(start(t).value, "real,b1")
    assert.strictEqual(start(t).value, "real,b1")
  })

  it("a damaged memo is ignored and written again", () => {
    const t = tree()
    start(t)
    writeFileSync(t.memo, "{ not json")
    const outcome = start(t)
    assert.strictEqual(outcome.value, "a1,b1")
    assert.strictEqual(outcome.stats.answered, 0)
    assert.doesNotThrow(() => JSON.parse(readFileSync(t.memo, "utf8")))
    assert.isAtLeast(start(t).stats.answered, 2)
  })

  it("EXPOPS_MODULE_MEMO=0 turns it off", () => {
    const t = tree()
    const outcome = start(t, { env: { EXPOPS_MODULE_MEMO: "0" } })
    assert.strictEqual(outcome.value, "a1,b1")
    assert.isFalse(existsSync(t.memo))
  })
})
