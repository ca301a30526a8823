import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { CodeFingerprint } from "@expops/core"

const fp = (fn: Function, version?: string) => CodeFingerprint.fingerprint("step test", fn, version)

describe("CodeFingerprint", () => {
  it("ignores whitespace- and comment-only edits", () => {
    const a = function*(x: number) {
      const y = x * 2
      return y + 1
    }
    // prettier-ignore
    const b = function*(x:number){
      // a new comment
      const    y = x*2 /* inline */

      return y+1
    }
    assert.strictEqual(fp(a), fp(b))
  })

  it("changes with any other edit", () => {
    const base = (x: number) => x * 2 + 1
    const edits = [
      (x: number) => x * 2 + 2,
      (x: number) => x * 3 + 1,
      (x: number) => x / 2 + 1,
      (y: number) => y * 2 + 1
    ]
    for (const edit of edits) assert.notStrictEqual(fp(base), fp(edit))
  })

  it("keeps string, template and regex literals verbatim", () => {
    assert.notStrictEqual(fp(() => "a  b"), fp(() => "a b"))
    assert.notStrictEqual(fp(() => `a  ${1}`), fp(() => `a ${1}`))
    assert.notStrictEqual(fp(() => /a  b/.test("x")), fp(() => /a b/.test("x")))
    assert.notStrictEqual(fp(() => "// not a comment"), fp(() => "// not a comment!"))
  })

  it("keeps the space that separates words", () => {
    assert.strictEqual(CodeFingerprint.normalize("return   x"), "return x")
    assert.strictEqual(CodeFingerprint.normalize("a  +  b // c\n/* d */ ;"), "a+b;")
    assert.strictEqual(CodeFingerprint.normalize("x = a / b / c"), "x=a/b/c")
  })

  it("keeps what automatic semicolon insertion and operator fusing depend on", () => {
    const n = CodeFingerprint.normalize
    // A line break after `return` (and its kind) returns nothing.
    assert.notStrictEqual(n("return x"), n("return\nx"))
    assert.notStrictEqual(n("yield x"), n("yield /* c\n */ x"))
    assert.strictEqual(n("return  x"), n("return /* c */ x"))
    // `a++ + b` is not `a + ++b`, `- -y` is not `--y`.
    assert.notStrictEqual(n("a++ + b"), n("a + ++b"))
    assert.notStrictEqual(n("x = - -y"), n("x = --y"))
    // A line starting with `++` ends the statement before it.
    assert.notStrictEqual(n("a++\nb"), n("a\n++b"))
    // Still blind to plain whitespace between operators.
    assert.strictEqual(n("a + -b"), n("a+-b"))
    assert.strictEqual(n("f(a)\n.then(b)"), n("f(a).then(b)"))
  })

  it("changes with the declared version", () => {
    const f = () => 1
    assert.notStrictEqual(fp(f), fp(f, "2"))
    assert.strictEqual(fp(f, "2"), fp(f, "2"))
  })

  it("refuses a wrapper, which prints the same for every body", () => {
    const wrapped = Effect.fn("wrapped")(function*() {
      return 1
    })
    assert.throws(() => fp(wrapped), /wrapper made by Effect.fn.*Pass the generator or arrow function itself/s)
    assert.throws(() => fp(Math.max), /native or bound function/)
    // With a version the user takes responsibility for invalidation.
    assert.doesNotThrow(() => fp(wrapped, "1"))
  })
})
