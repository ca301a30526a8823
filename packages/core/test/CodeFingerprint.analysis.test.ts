import { assert, describe, it } from "@effect/vitest"
import { CodeFingerprint } from "@expops/core"

const analyze = CodeFingerprint.analyzeModule

const unitOf = (source: string, name: string) => {
  const analysis = analyze("m.ts", source)
  return analysis.units[analysis.bindings[name]!]!
}
const refsOf = (source: string, name: string) => unitOf(source, name).refs

describe("analyze", () => {
  it("resolves names as the language does: shadowing, parameters, destructuring, catch, hoisting, labels", () => {
    const source = [
      "const a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7",
      "export function uses(a: number, { b }: { b: number }, [c] = [g]) {",
      "  try { return a + b + c } catch (d) { return d } finally { e: for (;;) break e }",
      "  function hoisted() { return f }",
      "  return hoisted()",
      "}",
      "export const later = () => h + i.j",
      "const h = 8",
      "const i = { j: 9 }",
      ""
    ].join("\n")
    // a, b, c, d are shadowed; e is a label; f is read through a hoisted inner function; g is a default value.
    assert.deepStrictEqual(refsOf(source, "uses"), ["f", "g"])
    // Read before their declarations: hoisting of module bindings.
    assert.deepStrictEqual(refsOf(source, "later"), ["h", "i"])
  })

  it("does not count type positions, type-only imports or property names as reads", () => {
    const source = [
      "import type { T } from \"./types.ts\"",
      "import { type U, v } from \"./values.ts\"",
      "const Model = { a: 1 }",
      "type Model = typeof Model",
      "export const f = (x: Model, y: U): T => ({ Model: x, v, key: y as unknown as T, obj: x.Model })",
      ""
    ].join("\n")
    assert.deepStrictEqual(refsOf(source, "f"), ["v"])
  })

  it("counts a class by its whole body, and what its methods read", () => {
    const source = "const k = 2\nconst m = 3\nexport class C extends Base { static s = k; run() { return m } }\nclass Base {}\n"
    assert.deepStrictEqual(refsOf(source, "C"), ["Base", "k", "m"])
    assert.strictEqual(unitOf(source, "C").kind, "class")
  })

  it("names a namespace member, and a literal dynamic import", () => {
    const source = "import * as ns from \"./ns.ts\"\nexport const f = async () => ns.g() + (await import(\"./lazy.ts\")).h\n"
    assert.deepStrictEqual(refsOf(source, "f"), ["import(./lazy.ts)", "ns.g"])
  })

  it("attaches a top-level statement to the bindings it touches", () => {
    const analysis = analyze("m.ts", "export const registry = new Map()\nregistry.set(\"a\", 1)\nconst other = 1\n")
    const statement = analysis.statements.registry![0]!
    assert.strictEqual(analysis.units[statement]!.kind, "statement")
    assert.isUndefined(analysis.statements.other)
  })

  it("tells a factory's parameters (run-time values) from its helpers (code)", () => {
    const analysis = analyze("m.ts", [
      "export const make = (factor: number, unused: number) => {",
      "  let counter = 0",
      "  const helper = (x: number) => x + 1",
      "  const scaled = factor * 2",
      "  return (x: number) => helper(x) * scaled + counter",
      "}",
      ""
    ].join("\n"))
    const body = analysis.functions.find((f) => f.line === 5)!
    assert.deepStrictEqual(body.captured.map((c) => c.name), ["scaled", "counter"])
    assert.deepStrictEqual(body.locals.map((l) => l.name), ["helper"])
  })

  it("finds non-reproducible calls and values read at load", () => {
    const analysis = analyze("m.ts", [
      "import { readFileSync } from \"node:fs\"",
      "import { randomUUID } from \"node:crypto\"",
      "const Math2 = Math",
      "export const f = () => Math.random() + Date.now() + performance.now() + new Date().getTime() + randomUUID().length",
      "export const g = (Math: { random(): number }) => Math.random() + new Date(0).getTime()",
      "export const table = readFileSync(\"t.csv\", \"utf8\") + process.env.HOME",
      "export const lazy = () => readFileSync(\"t.csv\", \"utf8\")",
      ""
    ].join("\n"))
    const of = (name: string) => analysis.units[analysis.bindings[name]!]!
    assert.deepStrictEqual(of("f").nondeterminism.map((n) => n.what), [
      "Math.random()",
      "Date.now()",
      "performance.now()",
      "new Date()",
      "randomUUID() from node:crypto"
    ])
    // A shadowed `Math` and a dated `new Date(0)` are not.
    assert.deepStrictEqual(of("g").nondeterminism, [])
    assert.deepStrictEqual(of("table").external.map((e) => e.what), ["a file read", "an environment variable"])
    // Inside a function, a read happens when the body runs, not at load.
    assert.deepStrictEqual(of("lazy").external, [])
  })

  it("gives golden digests for a fixed corpus: a parser upgrade that changes them is deliberate", () => {
    const corpus = [
      "export const softmax = (xs: ReadonlyArray<number>) => { const m = Math.max(...xs); const e = xs.map((x) => Math.exp(x - m)); const t = e.reduce((a, b) => a + b, 0); return e.map((v) => v / t) }",
      "export function fib(n: number): number { return n < 2 ? n : fib(n - 1) + fib(n - 2) }",
      "export const RE = /a+(?<b>c)/giu, T = `x${1}y`, B = 10n, S = 'q'",
      "export class K { #p = 1; static { this.x = 2 } get v() { return this.#p } }"
    ]
    const digests = corpus.map((source) => analyze("golden.ts", source).units.map((u) => u.digest))
    assert.deepStrictEqual(digests, GOLDEN)
  })
})

const GOLDEN: Array<Array<string>> = [
  ["4b62204054cc4fd6872eb62766e11bdb"],
  ["56c2f41dde0d70110be5d20ce925f605"],
  ["f23e0a316064bccefdea38875bb954dc", "c5417de6664494e7c969cf39b40effed", "5d8d6374aa3b16a7d285c2edd8c3804c", "37e745b775868ccc4895f4da8cf91a8b"],
  ["cfb30d2043bbf8b8f421964200524064"]
]
