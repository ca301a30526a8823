import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { CanonicalHash } from "@expops/core"

const Json = Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Finite, Schema.Boolean, Schema.Null]))

/** The same record with its keys inserted in reverse order. */
const reversed = (record: Record<string, unknown>) => Object.fromEntries(Object.entries(record).reverse())

describe("CanonicalHash", () => {
  it.prop("ignores object key order", [Json], ([record]) => {
    assert.strictEqual(CanonicalHash.digest(record), CanonicalHash.digest(reversed(record)))
    assert.strictEqual(CanonicalHash.digest({ nested: record, x: 1 }), CanonicalHash.digest({ x: 1, nested: reversed(record) }))
  })

  it.prop("changes with any leaf value", [Json, Schema.String, Schema.Finite, Schema.Finite], ([record, key, value, other]) => {
    const before = { ...record, [key]: value }
    const after = { ...record, [key]: other }
    if (value + 0 !== other + 0) assert.notStrictEqual(CanonicalHash.digest(before), CanonicalHash.digest(after))
    const asString = { ...record, [key]: String(value) }
    assert.notStrictEqual(CanonicalHash.digest(before), CanonicalHash.digest(asString))
  })

  it.prop("changes with any element of an array", [Schema.NonEmptyArray(Schema.Finite), Schema.Int, Schema.Finite], ([xs, i, other]) => {
    const at = Math.abs(i) % xs.length
    const changed = xs.slice()
    changed[at] = other
    if (xs[at]! + 0 !== other + 0) assert.notStrictEqual(CanonicalHash.digest(xs), CanonicalHash.digest(changed))
  })

  it("normalises -0 and NaN", () => {
    assert.strictEqual(CanonicalHash.digest(-0), CanonicalHash.digest(0))
    assert.strictEqual(CanonicalHash.digest([NaN]), CanonicalHash.digest([Number.NaN]))
    assert.notStrictEqual(CanonicalHash.digest(NaN), CanonicalHash.digest(null))
  })

  it("sorts Map and Set entries", () => {
    assert.strictEqual(CanonicalHash.digest(new Map([["a", 1], ["b", 2]])), CanonicalHash.digest(new Map([["b", 2], ["a", 1]])))
    assert.strictEqual(CanonicalHash.digest(new Set([3, 1, 2])), CanonicalHash.digest(new Set([2, 3, 1])))
    assert.notStrictEqual(CanonicalHash.digest(new Set([1, 2])), CanonicalHash.digest([1, 2]))
    assert.notStrictEqual(CanonicalHash.digest(new Map([["a", 1]])), CanonicalHash.digest(new Map([["a", 2]])))
  })

  it("hashes binary data as tagged raw bytes", () => {
    const floats = Float64Array.from([1.5, -2, 3])
    const bytes = new Uint8Array(floats.buffer)
    // Same bytes, different element type: different digests.
    assert.notStrictEqual(CanonicalHash.digest(floats), CanonicalHash.digest(bytes))
    // A view hashes only its own window of the buffer.
    const window = new Float64Array(floats.buffer, 8, 2)
    assert.strictEqual(CanonicalHash.digest(window), CanonicalHash.digest(Float64Array.from([-2, 3])))
    // Never through JSON: a typed array and the plain array of its values differ.
    assert.notStrictEqual(CanonicalHash.digest(floats), CanonicalHash.digest([1.5, -2, 3]))
    const changed = floats.slice()
    changed[2] = 3.0000001
    assert.notStrictEqual(CanonicalHash.digest(floats), CanonicalHash.digest(changed))
  })

  it("distinguishes values JSON would conflate", () => {
    const distinct = [1, "1", true, "true", null, "null", [], {}, [[]], [1, 2], ["1,2"], 10n, new Date(10), "", undefined]
    const digests = new Set(distinct.map((v) => CanonicalHash.digest(v)))
    assert.strictEqual(digests.size, distinct.length)
    // Key/value boundaries cannot be shifted.
    assert.notStrictEqual(CanonicalHash.digest({ ab: "c" }), CanonicalHash.digest({ a: "bc" }))
  })

  it("keeps strings with lone surrogates distinct (UTF-8 cannot carry them)", () => {
    const variants = ["\uD800", "\uDBFF", "\uFFFD", "\uD800\uDC00"]
    assert.strictEqual(new Set(variants.map((v) => CanonicalHash.digest({ s: [v] }))).size, 4)
    // A well-formed value hashes the same whichever mode encoded it.
    assert.strictEqual(CanonicalHash.digest({ a: "x", b: ["\uD800"] }), CanonicalHash.digest({ b: ["\uD800"], a: "x" }))
    // Keys too, including in records of one repeated shape (whose key encodings are reused).
    const keyed = ["\uD800", "\uDBFF", "\uFFFD"].map((k) => CanonicalHash.digest([{ [k]: 1, z: 2 }, { [k]: 1, z: 2 }]))
    assert.strictEqual(new Set(keyed).size, 3)
  })

  it("reuses key encodings only for records of the same shape", () => {
    const rows = [{ a: 1, b: 2 }, { a: 1, c: 2 }, { b: 2, a: 1 }]
    assert.notStrictEqual(CanonicalHash.digest(rows), CanonicalHash.digest([{ a: 1, b: 2 }, { a: 1, b: 2 }, { b: 2, a: 1 }]))
    assert.strictEqual(CanonicalHash.digest(rows), CanonicalHash.digest([{ b: 2, a: 1 }, { c: 2, a: 1 }, { a: 1, b: 2 }]))
    // A nested record of another shape between two of the same shape.
    assert.notStrictEqual(
      CanonicalHash.digest([{ a: 1, n: { x: 1 } }, { a: 1, n: { y: 1 } }]),
      CanonicalHash.digest([{ a: 1, n: { x: 1 } }, { a: 1, n: { x: 1 } }])
    )
  })

  it("treats an undefined field as absent", () => {
    assert.strictEqual(CanonicalHash.digest({ a: 1, b: undefined }), CanonicalHash.digest({ a: 1 }))
  })

  it("names where an unhashable part was found", () => {
    assert.throws(() => CanonicalHash.digest({ rows: [{ id: 1 }, { id: () => 1 }] }), /a function at \.rows\[1\]\.id/)
    class Point {
      x = 1
    }
    assert.throws(() => CanonicalHash.digest({ p: new Point() }), /an instance of Point at \.p/)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.throws(() => CanonicalHash.digest(cyclic), /circular reference at \.self/)
  })

  it("an unhashable part is a tagged error with where and what as data", () => {
    const error = (() => {
      try {
        CanonicalHash.digest({ rows: [{ id: 1 }, { id: () => 1 }] })
      } catch (error) {
        return error
      }
    })()
    assert.instanceOf(error, CanonicalHash.UnhashableValueError)
    const unhashable = error as CanonicalHash.UnhashableValueError
    assert.strictEqual(unhashable._tag, "UnhashableValueError")
    assert.deepStrictEqual(unhashable.path, ["rows", 1, "id"])
    assert.strictEqual(unhashable.found, "a function")
    assert.strictEqual(unhashable.message, "cannot hash a function at .rows[1].id")
  })

  it("is stable across calls (a fixed vector)", () => {
    // Pinned: changing the encoding silently would orphan every stored entry.
    assert.strictEqual(
      CanonicalHash.digest({ b: [1, "x", null], a: true }),
      CanonicalHash.digest({ a: true, b: [1, "x", null] })
    )
    assert.match(CanonicalHash.digest("x"), /^[0-9a-f]{64}$/)
  })

  it("gives pinned digests, whichever path encodes the value (primitives and short arrays are joined at once)", () => {
    // Written before short values took their own path: a key is the same as before it.
    const pinned: Array<[unknown, string]> = [
      [5, "29395d3f7539e63b81d8668d7fd5d59e955111726df481e596c827b509f69ce8"],
      ["é✓", "9710371db482119aece644c4ccdc11aa652f048e2a3a46045573c00d15b727ad"],
      ["\uD800", "ce908582eeba8cfa6d172409aec5510f8a0b38ecadc4d7f2250882f9a26a7ad6"],
      [["\uD800", 1], "27fb14c759f2fb58b3ce7be60c819a1fe6d605b7ebd8bfad9f2e86ec64f56183"],
      [[], "aa701a477f907925508eee1a34c2ddc6e80826fccb09250dbba9f8f142f08148"],
      [[1, "x", null, true, undefined, 2n, -0, NaN], "df906008106fe24cfd52456e9c1c05ec86e23d3153e40358cbb587ddbda08b37"],
      // Longer than the short path takes.
      [Array.from({ length: 65 }, (_, i) => i), "c39468eb3a1a1bd68bac7b0d078cea305a34895c867048627454774ca3cbd28b"],
      [[{ b: 1, a: [null, "x", -0, NaN, true] }, undefined, 2n], "b8aafc22fc0cb21249bf524564635bcf4125ec1842a70917534d04ebd12a56b9"]
    ]
    for (const [value, digest] of pinned) assert.strictEqual(CanonicalHash.digest(value), digest, String(value))
    // A function in a short array is still located.
    assert.throws(() => CanonicalHash.digest([1, () => 1]), /a function at \[1\]/)
  })
})
