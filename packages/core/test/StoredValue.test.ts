import { assert, describe, it } from "@effect/vitest"
import { StoredValue } from "@expops/core"

const roundTrip = (value: unknown) => {
  const { blobs, json } = StoredValue.serialize(value)
  const text = JSON.stringify(json)
  const byDigest = new Map(blobs.map((b) => [b.digest, b.bytes.slice()]))
  return StoredValue.deserialize(JSON.parse(text), (d) => byDigest.get(d)!)
}

describe("StoredValue", () => {
  it("round-trips what JSON cannot carry", () => {
    const value = {
      nan: NaN,
      inf: -Infinity,
      negZero: -0,
      big: 12345678901234567890n,
      when: new Date(1700000000000),
      map: new Map<unknown, unknown>([["a", 1], [2, [3]]]),
      set: new Set(["x", "y"]),
      missing: undefined,
      $x: "a user key that looks like a tag",
      small: Int16Array.from([-1, 2, 3]),
      nested: [{ $x: "obj" }]
    }
    const back = roundTrip(value) as typeof value
    assert.isTrue(Number.isNaN(back.nan))
    assert.strictEqual(back.inf, -Infinity)
    assert.isTrue(Object.is(back.negZero, -0))
    assert.strictEqual(back.big, value.big)
    assert.strictEqual(back.when.getTime(), value.when.getTime())
    assert.deepStrictEqual([...back.map], [...value.map])
    assert.deepStrictEqual([...back.set], ["x", "y"])
    assert.isTrue("missing" in back)
    assert.strictEqual(back.$x, value.$x)
    assert.instanceOf(back.small, Int16Array)
    assert.deepStrictEqual(Array.from(back.small), [-1, 2, 3])
    assert.deepStrictEqual(back.nested, [{ $x: "obj" }])
  })

  it("moves large binary parts to blobs and restores their type", () => {
    const big = Float32Array.from({ length: 5000 }, (_, i) => i / 7)
    const { blobs, json } = StoredValue.serialize({ big })
    assert.strictEqual(blobs.length, 1)
    assert.strictEqual(blobs[0]!.bytes.byteLength, big.byteLength)
    assert.isBelow(JSON.stringify(json).length, 200)
    const back = roundTrip({ big }) as { big: Float32Array }
    assert.instanceOf(back.big, Float32Array)
    assert.deepStrictEqual(Array.from(back.big), Array.from(big))
  })

  it("keeps a field named __proto__ as a field", () => {
    const value = JSON.parse('{"__proto__": 1, "a": 2}')
    const restored = roundTrip(value) as Record<string, unknown>
    assert.deepStrictEqual(Object.keys(restored), ["__proto__", "a"])
    assert.strictEqual(Object.getPrototypeOf(restored), Object.prototype)
    assert.strictEqual(Object.getOwnPropertyDescriptor(restored, "__proto__")?.value, 1)
  })

  it("stores a Buffer (a Uint8Array subclass) as the Uint8Array it is", () => {
    const small = roundTrip(Buffer.from("hello")) as Uint8Array
    assert.strictEqual(small.constructor, Uint8Array)
    assert.deepStrictEqual(Array.from(small), Array.from(Buffer.from("hello")))
    const large = Buffer.alloc(10_000, 7)
    const restored = roundTrip({ bytes: large }) as { bytes: Uint8Array }
    assert.strictEqual(restored.bytes.constructor, Uint8Array)
    assert.strictEqual(restored.bytes.byteLength, 10_000)
  })

  it("names where an unstorable part was found", () => {
    assert.throws(() => StoredValue.serialize({ a: [1, { f: Symbol("s") }] }), /a symbol at \.a\[1\]\.f/)
  })
})
