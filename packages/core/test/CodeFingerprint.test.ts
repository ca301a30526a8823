import { mkdirSync, symlinkSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { CodeFingerprint, Pipeline, type RunReport } from "@expops/core"
import { TestLayers } from "@expops/core/testing"
import { cleanUp, edit, type Files, load, write } from "./fixtures/Projects.ts"

afterAll(cleanUp)

const step = (name: string, body: string, extra = "") =>
  `export const ${name} = Step.make({ name: "${name}", input: Schema.Finite, output: Schema.Finite,${extra} run: function*(x) { ${body} } })\n`

/**
 * A project whose steps each reach the code in one way: through a helper, an
 * imported constant, a re-export, a default import, a namespace import, a
 * class method, mutual recursion, a package, a schema's code; a process
 * calls one of them.
 */
const base: Files = {
  "node_modules/fixture-pkg/package.json": JSON.stringify({ name: "fixture-pkg", version: "1.0.0", type: "module", main: "index.js" }),
  "node_modules/fixture-pkg/index.js": "export const pkg = (x) => x * 5\n",
  "src/lib.ts": [
    "export const SPECIES = [\"setosa\", \"versicolor\"] as const",
    "export const scale = (x: number): number => x * 2",
    "export default function offset(x: number): number { return x + 1 }",
    "function helperForModel(x: number) { return x * 3 }",
    "export class Model { predict(x: number) { return helperForModel(x) } }",
    "export const unused = () => 0",
    ""
  ].join("\n"),
  "src/more.ts": "export const MORE = 10\n",
  "src/reexport.ts": "export { scale as rescale } from \"./lib.ts\"\nexport * from \"./more.ts\"\n",
  "src/main.ts": [
    "import { Process, Step } from \"@expops/core\"",
    "import { Schema, SchemaGetter } from \"effect\"",
    "import { pkg } from \"fixture-pkg\"",
    "import offset, { Model, SPECIES } from \"./lib.ts\"",
    "import * as lib from \"./lib.ts\"",
    "import { MORE, rescale } from \"./reexport.ts\"",
    "",
    "function helper(x: number) { return x + 1 }",
    "const twice = (x: number) => helper(x) + helper(x)",
    "const unrelated = () => \"a b\"",
    "const isEven = (n: number): boolean => (n === 0 ? true : isOdd(n - 1))",
    "const isOdd = (n: number): boolean => (n === 0 ? false : isEven(n - 1))",
    "const Doubled = Schema.Finite.pipe(Schema.decodeTo(Schema.Finite, {",
    "  decode: SchemaGetter.transform((n: number) => n * 2),",
    "  encode: SchemaGetter.transform((n: number) => n / 2)",
    "}))",
    "",
    step("viaHelper", "return twice(x)"),
    step("viaConstant", "return x + SPECIES.length"),
    step("viaReexport", "return rescale(x) + MORE"),
    step("viaDefault", "return offset(x)"),
    step("viaNamespace", "return lib.scale(x)"),
    step("viaClass", "return new Model().predict(x)"),
    step("viaRecursion", "return isEven(Math.round(x)) ? 1 : 0"),
    step("viaPackage", "return pkg(x)"),
    "export const viaSchema = Step.make({ name: \"viaSchema\", input: Schema.Finite, output: Doubled, run: function*(x) { return x } })",
    step("plain", "return x"),
    "export const proc = Process.make({",
    "  name: \"proc\",",
    "  inputs: { x: Schema.Finite },",
    "  outputs: { y: Schema.Finite },",
    "  run: function*({ x }) { return { y: yield* viaHelper(x) } }",
    "})",
    ""
  ].join("\n")
}

const NAMES = ["viaHelper", "viaConstant", "viaReexport", "viaDefault", "viaNamespace", "viaClass", "viaRecursion", "viaPackage", "viaSchema", "plain", "proc"]

const codes = async (files: Files) => {
  const module = await load(write(files))
  return Object.fromEntries(NAMES.map((name) => [name, module[name].code as string]))
}

/** The definitions whose fingerprint an edit of the base project changes. */
const changedBy = async (editFiles: (files: Files) => Files): Promise<Array<string>> => {
  const before = await codes(base)
  const after = await codes(editFiles(base))
  return NAMES.filter((name) => before[name] !== after[name])
}

const editing = (file: string, from: string, to: string) => (files: Files): Files => ({ ...files, [file]: edit(files[file]!, from, to) })

describe("CodeFingerprint", () => {
  it("is the same for the same code, wherever the project lives", async () => {
    assert.deepStrictEqual(await codes(base), await codes(base))
  })

  it("a module-level helper edited changes exactly the bodies that reach it, through another helper and through a step a process calls", async () => {
    assert.deepStrictEqual(await changedBy(editing("src/main.ts", "return x + 1 }", "return x + 2 }")), ["viaHelper", "proc"])
  })

  it("a declaration no body reaches, edited, changes nothing", async () => {
    assert.deepStrictEqual(await changedBy(editing("src/main.ts", "() => \"a b\"", "() => \"c d\"")), [])
    assert.deepStrictEqual(await changedBy(editing("src/lib.ts", "unused = () => 0", "unused = () => 1")), [])
  })

  it("follows imports: a constant, a re-export and `export *`, a default import, a namespace member, a class method", async () => {
    assert.deepStrictEqual(await changedBy(editing("src/lib.ts", "\"versicolor\"", "\"virginica\"")), ["viaConstant"])
    assert.deepStrictEqual(await changedBy(editing("src/more.ts", "10", "11")), ["viaReexport"])
    assert.deepStrictEqual(await changedBy(editing("src/lib.ts", "x * 2", "x * 4")), ["viaReexport", "viaNamespace"])
    assert.deepStrictEqual(await changedBy(editing("src/lib.ts", "x + 1 }", "x + 2 }")), ["viaDefault"])
    assert.deepStrictEqual(await changedBy(editing("src/lib.ts", "x * 3", "x * 9")), ["viaClass"])
  })

  it("follows mutual recursion", async () => {
    assert.deepStrictEqual(await changedBy(editing("src/main.ts", "n === 0 ? false", "n === 1 ? false")), ["viaRecursion"])
  })

  it("counts a package by its version", async () => {
    const bump = (files: Files): Files => ({
      ...files,
      "node_modules/fixture-pkg/package.json": edit(files["node_modules/fixture-pkg/package.json"]!, "1.0.0", "1.1.0")
    })
    assert.deepStrictEqual(await changedBy(bump), ["viaPackage"])
    const module = await load(write(bump(base)))
    assert.deepInclude(module.viaPackage.codeParts, { kind: "package", name: "fixture-pkg", digest: "1.1.0" })
  })

  it("counts a package linked from source (a workspace of yours) by its source, whose version does not move", async () => {
    const linked = (body: string) => {
      const dir = write({
        "packages/shared/package.json": JSON.stringify({ name: "shared", version: "1.0.0", type: "module", main: "index.js" }),
        "packages/shared/index.js": `export const shared = (x) => ${body}\n`,
        "src/main.ts": [
          "import { Step } from \"@expops/core\"",
          "import { Schema } from \"effect\"",
          "import { shared } from \"shared\"",
          "export const viaWorkspace = Step.make({ name: \"w\", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return shared(x) } })",
          ""
        ].join("\n")
      })
      mkdirSync(Path.join(dir, "node_modules"), { recursive: true })
      symlinkSync(Path.join(dir, "packages/shared"), Path.join(dir, "node_modules/shared"))
      return dir
    }
    const a = await load(linked("x + 1"))
    const b = await load(linked("x + 2"))
    assert.notStrictEqual(a.viaWorkspace.code, b.viaWorkspace.code)
    const part = (a.viaWorkspace.codeParts as ReadonlyArray<CodeFingerprint.Part>).find((p) => p.kind === "package" && p.name === "shared")
    assert.match(part!.digest, /^source [0-9a-f]{32}$/)
  })

  it("sees the code inside a schema transformation", async () => {
    assert.deepStrictEqual(await changedBy(editing("src/main.ts", "(n: number) => n * 2", "(n: number) => n * 3")), ["viaSchema"])
  })

  it("ignores comments, whitespace, formatting, quote style, redundant parentheses and types", async () => {
    const reformatted = (files: Files): Files => {
      let main = files["src/main.ts"]!
      main = edit(main, "function helper(x: number) { return x + 1 }", "// one more\nfunction helper(x) {\n  return (x) + 1 /* plus one */\n}")
      main = edit(main, "const isOdd = (n: number): boolean => (n === 0 ? false : isEven(n - 1))", "const isOdd = (n) =>\n  n === 0\n    ? false\n    : isEven(n - 1)")
      main = main.replaceAll("\"@expops/core\"", "'@expops/core'")
      return { ...files, "src/main.ts": main, "src/lib.ts": edit(files["src/lib.ts"]!, "(x: number): number => x * 2", "(x: number) =>   x*2") }
    }
    assert.deepStrictEqual(await changedBy(reformatted), [])
  })

  it("sees whitespace inside a string literal, and a regular expression after a parenthesis", async () => {
    const withString = editing("src/main.ts", "return twice(x)", "return twice(x) + \"a b\".length")
    const withWiderString = editing("src/main.ts", "return twice(x)", "return twice(x) + \"a  b\".length")
    const a = await codes(withString(base))
    const b = await codes(withWiderString(base))
    assert.notStrictEqual(a.viaHelper, b.viaHelper)
    const regex = (pattern: string) => editing("src/main.ts", "name: \"plain\", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return x }", `name: "plain", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return (x) / 2 / ${pattern}/.source.length }`)
    const r1 = await codes(regex("/a")(base))
    const r2 = await codes(regex("/b")(base))
    assert.notStrictEqual(r1.plain, r2.plain)
  })

  it("keeps the closure's parts, for explaining a change", async () => {
    const module = await load(write(base))
    const parts = (module.proc.codeParts as ReadonlyArray<CodeFingerprint.Part>).map((p) => `${p.kind} ${p.name}${p.file ? ` ${p.file}` : ""}`)
    assert.includeMembers(parts, [
      "body process proc src/main.ts",
      "definition process proc src/main.ts",
      "step viaHelper src/main.ts",
      "helper twice src/main.ts",
      "helper helper src/main.ts",
      "package @expops/core",
      "package effect"
    ])
    assert.notInclude(parts, "helper unrelated src/main.ts")
  })

  it("a factory-made body reading its argument is a definition error naming the variable and the fixes", async () => {
    const files = {
      "src/main.ts": [
        "import { Step } from \"@expops/core\"",
        "import { Schema } from \"effect\"",
        "const makeScale = (factor: number) =>",
        "  Step.make({ name: \"scale\", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return x * factor } })",
        "export const byTwo = makeScale(2)",
        ""
      ].join("\n")
    }
    const error = await load(write(files)).then(() => undefined, (e: unknown) => e)
    assert.instanceOf(error, CodeFingerprint.DefinitionError)
    const column = files["src/main.ts"].split("\n")[3]!.indexOf("factor }") + 1
    assert.strictEqual(
      (error as Error).message,
      `step scale (src/main.ts:4:${column}): its body reads \`factor\` from an enclosing function, which the cache key cannot see. ` +
        "Pass it as config (steps) or parameters (processes), declare it in `captures: { factor }` (hashed into the key), " +
        "or set a `version` and bump it whenever the value changes"
    )
  })

  it("with `captures`, a factory's argument is in the key: another value, another fingerprint", async () => {
    const files = {
      "src/main.ts": [
        "import { Step } from \"@expops/core\"",
        "import { Schema } from \"effect\"",
        "const makeScale = (factor: number) =>",
        "  Step.make({ name: \"scale\", input: Schema.Finite, output: Schema.Finite, captures: { factor }, run: function*(x) { return x * factor } })",
        "export const byTwo = makeScale(2)",
        "export const alsoByTwo = makeScale(2)",
        "export const byThree = makeScale(3)",
        ""
      ].join("\n")
    }
    const module = await load(write(files))
    assert.strictEqual(module.byTwo.code, module.alsoByTwo.code)
    assert.notStrictEqual(module.byTwo.code, module.byThree.code)
  })

  it("a factory's helpers fixed by code are code: no error, and editing one changes the fingerprint", async () => {
    const files = (body: string) => ({
      "src/main.ts": [
        "import { Step } from \"@expops/core\"",
        "import { Schema } from \"effect\"",
        "const makeStep = () => {",
        `  const inc = (x: number) => ${body}`,
        "  return Step.make({ name: \"inc\", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return inc(x) } })",
        "}",
        "export const inc = makeStep()",
        ""
      ].join("\n")
    })
    const a = await load(write(files("x + 1")))
    const b = await load(write(files("x + 2")))
    assert.notStrictEqual(a.inc.code, b.inc.code)
  })

  it("warns of Date.now in the closure, naming the step, the declaration and file:line:column; Math.random (seeded per body) only at debug level", async () => {
    const module = await load(write({
      "src/main.ts": [
        "import { Step } from \"@expops/core\"",
        "import { Schema } from \"effect\"",
        "const noise = () => Math.random()",
        "const stamp = () => Date.now()",
        "export const noisy = Step.make({ name: \"noisy\", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return x + noise() + stamp() } })",
        ""
      ].join("\n")
    }))
    const messages = (module.noisy.diagnostics as ReadonlyArray<CodeFingerprint.Diagnostic>).map((d) => [d.severity, d.code, d.message])
    assert.deepStrictEqual(messages, [
      [
        "debug",
        "nondeterminism",
        "step noisy reaches Math.random() in helper `noise` (src/main.ts:3:21): seeded per body while it runs, so reproducible for the same seed (a draw made after the body finished, or in a worker thread, is not)"
      ],
      ["warning", "nondeterminism", "step noisy reaches Date.now() in helper `stamp` (src/main.ts:4:21), which gives another result on every run: read the time from Effect's `Clock` instead"]
    ])
  })

  it("warns of a value computed at load from an environment variable", async () => {
    const module = await load(write({
      "src/main.ts": [
        "import { Step } from \"@expops/core\"",
        "import { Schema } from \"effect\"",
        "const RATE = Number(process.env.RATE ?? 1)",
        "export const rated = Step.make({ name: \"rated\", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return x * RATE } })",
        ""
      ].join("\n")
    }))
    const [warning] = module.rated.diagnostics as ReadonlyArray<CodeFingerprint.Diagnostic>
    assert.strictEqual(warning?.code, "load-time-value")
    assert.include(warning?.message, "constant `RATE` (src/main.ts:3:21), computed at load from an environment variable")
  })

  it("when the body cannot be found in its source, the whole module counts: more re-runs, never a stale hit", async () => {
    const files = (helper: string) => ({
      "src/main.ts": [
        "import { Step } from \"@expops/core\"",
        "import { Schema } from \"effect\"",
        `const unrelated = () => ${helper}`,
        "export const made = Step.make({ name: \"made\", input: Schema.Finite, output: Schema.Finite, run: new Function(\"x\", \"return x\") as any })",
        ""
      ].join("\n")
    })
    const a = await load(write(files("1")))
    const b = await load(write(files("2")))
    assert.notStrictEqual(a.made.code, b.made.code)
    assert.deepStrictEqual((a.made.diagnostics as ReadonlyArray<CodeFingerprint.Diagnostic>).map((d) => [d.severity, d.code]), [["debug", "unverified-source"]])
    assert.deepInclude(a.made.codeParts, { kind: "module", name: "src/main.ts", file: "src/main.ts", digest: (a.made.codeParts as Array<CodeFingerprint.Part>).find((p) => p.kind === "module")!.digest })
  })

  it("with no source at all, only the body's text counts, and it says so", () => {
    const fingerprint = CodeFingerprint.fingerprint({ owner: "step evaluated", body: function*(x: number) { return x }, sites: [] })
    assert.deepStrictEqual(fingerprint.parts.map((p) => p.kind), ["body"])
    assert.deepStrictEqual(fingerprint.diagnostics.map((d) => [d.severity, d.code]), [["warning", "no-source"]])
  })

  it("refuses a wrapper, which prints the same for every body, unless a version is declared", async () => {
    const { Effect } = await import("effect")
    const wrapped = Effect.fn("wrapped")(function*(x: number) {
      return x
    })
    assert.throws(
      () => CodeFingerprint.fingerprint({ owner: "step wrapped", body: wrapped, sites: CodeFingerprint.callSites() }),
      /step wrapped: cannot fingerprint its body \(it is a wrapper made by Effect\.fn\)/
    )
    assert.doesNotThrow(() => CodeFingerprint.fingerprint({ owner: "step wrapped", body: wrapped, sites: CodeFingerprint.callSites(), version: "1" }))
  })

  it("changes with the declared version", async () => {
    const files = (version: string) => ({
      "src/main.ts": [
        "import { Step } from \"@expops/core\"",
        "import { Schema } from \"effect\"",
        `export const v = Step.make({ name: "v", input: Schema.Finite, output: Schema.Finite, version: "${version}", run: function*(x) { return x } })`,
        ""
      ].join("\n")
    })
    assert.notStrictEqual((await load(write(files("1")))).v.code, (await load(write(files("2")))).v.code)
  })

  it("is of the text Node loaded, not of the file as edited since (with recordLoadedSources)", async () => {
    CodeFingerprint.recordLoadedSources()
    const files = {
      "src/main.ts": [
        "import { Step } from \"@expops/core\"",
        "import { Schema } from \"effect\"",
        "const inc = (x: number) => x + 1",
        "export const define = () => Step.make({ name: \"inc\", input: Schema.Finite, output: Schema.Finite, run: function*(x) { return inc(x) } })",
        ""
      ].join("\n")
    }
    const pristine = write(files)
    const edited = write(files)
    const expected = (await load(pristine)).define().code
    const module = await load(edited)
    // The run goes on with the code it loaded, while the user edits the helper.
    writeFileSync(Path.join(edited, "src/main.ts"), edit(files["src/main.ts"], "x + 1", "x + 2"))
    CodeFingerprint.configure({ root: edited })
    assert.strictEqual(module.define().code, expected)
  })
})

describe("CodeFingerprint, counting executions", () => {
  const counts = (globalThis as { __expopsCounts?: Record<string, number> }).__expopsCounts ??= {}
  const project = (score: string): Files => ({
    "src/main.ts": [
      "import { Pipeline, Process, Step } from \"@expops/core\"",
      "import { Schema } from \"effect\"",
      "const count = (name: string) => { const c = (globalThis as any).__expopsCounts; c[name] = (c[name] ?? 0) + 1 }",
      `const score = (x: number) => ${score}`,
      "const Xs = Schema.Array(Schema.Finite)",
      "const make = Step.make({ name: \"make\", input: Schema.Int, output: Xs, run: function*(n) { count(\"step make\"); return Array.from({ length: n }, (_, i) => i) } })",
      "const fit = Step.make({ name: \"fit\", input: Xs, output: Schema.Finite, run: function*(xs) { count(\"step fit\"); return xs.reduce((a, x) => a + score(x), 0) } })",
      "const report = Step.make({ name: \"report\", input: Schema.Finite, output: Schema.String, run: function*(w) { count(\"step report\"); return `w=${w}` } })",
      "const evaluate = Step.make({ name: \"evaluate\", input: Schema.Finite, output: Schema.Finite, run: function*(w) { count(\"step evaluate\"); return score(w) } })",
      "const load = Process.make({ name: \"load\", outputs: { xs: Xs }, run: function*() { count(\"process load\"); return { xs: yield* make(5) } } })",
      "const train = Process.make({ name: \"train\", inputs: { xs: Xs }, outputs: { w: Schema.Finite }, run: function*({ xs }) { count(\"process train\"); return { w: yield* fit(xs) } } })",
      "const summarise = Process.make({ name: \"summarise\", inputs: { w: Schema.Finite }, outputs: { text: Schema.String, s: Schema.Finite }, run: function*({ w }) { count(\"process summarise\"); return { text: yield* report(1), s: yield* evaluate(w) } } })",
      "export default Pipeline.make({ name: \"counting\", processes: [load, train, summarise], edges: [[\"load\", \"train\"], [\"train\", \"summarise\"]] })",
      ""
    ].join("\n")
  })
  const statuses = (report: RunReport.RunReport) => Object.fromEntries(report.processes.map((p) => [p.name, p.status]))
  /** Runs the project with `score` as `before`, then as `after`, on one cache; the report of the second run, counting its executions. */
  const edited = (before: string, after: string) =>
    Effect.gen(function*() {
      const first = (yield* Effect.promise(() => load(write(project(before))))).default as Pipeline.Pipeline<never>
      const second = (yield* Effect.promise(() => load(write(project(after))))).default as Pipeline.Pipeline<never>
      yield* Pipeline.run(first)
      for (const key of Object.keys(counts)) delete counts[key]
      return yield* Pipeline.run(second)
    })

  it.effect("a helper edited re-runs exactly the steps and processes whose code reaches it", () =>
    Effect.gen(function*() {
      const report = yield* edited("x * 2", "x * 3")
      assert.deepStrictEqual(statuses(report), { load: "cached", train: "executed", summarise: "executed" })
      // `fit` and `evaluate` call `score`; `report` does not, and `summarise` re-ran only because `evaluate` did.
      assert.deepStrictEqual(counts, { "process train": 1, "step fit": 1, "process summarise": 1, "step evaluate": 1 })
      const summarise = report.processes.find((p) => p.name === "summarise")!
      assert.deepStrictEqual(summarise.steps.map((s) => [s.name, s.status]), [["report", "cached"], ["evaluate", "executed"]])
    }).pipe(Effect.provide(TestLayers.layer())))

  it.effect("a comment-only edit of a helper re-runs nothing", () =>
    Effect.gen(function*() {
      const report = yield* edited("x * 2", "/* doubled */ x  *  2")
      assert.deepStrictEqual(statuses(report), { load: "cached", train: "cached", summarise: "cached" })
      assert.deepStrictEqual(counts, {})
    }).pipe(Effect.provide(TestLayers.layer())))
})
