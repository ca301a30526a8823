import { assert, describe, it } from "@effect/vitest"
import { ByteSize, Duration, Option, Result } from "effect"
import { Format, Units } from "@expops/cli"

const bytes = (text: string) => Result.map(Units.parseSize(text), ByteSize.toBigInt)
const millis = (text: string) => Option.map(Units.parseDuration(text), Duration.toMillis)

describe("units", () => {
  it("parses sizes with decimal and binary units", () => {
    assert.deepStrictEqual(bytes("2GB"), Result.succeed(2_000_000_000n))
    assert.deepStrictEqual(bytes("500 MB"), Result.succeed(500_000_000n))
    assert.deepStrictEqual(bytes("500mb"), Result.succeed(500_000_000n))
    assert.deepStrictEqual(bytes("1.5GiB"), Result.succeed(BigInt(1.5 * 1024 ** 3)))
    assert.deepStrictEqual(bytes("2k"), Result.succeed(2000n))
    assert.deepStrictEqual(bytes("1024B"), Result.succeed(1024n))
    // A fraction of a byte is dropped, as before; the rest is exact.
    assert.deepStrictEqual(bytes("1.1GiB"), Result.succeed(1_181_116_006n))
    assert.deepStrictEqual(bytes("0"), Result.succeed(0n))
    assert.deepStrictEqual(bytes("lots"), Result.fail({ _tag: "NotASize" }))
    assert.deepStrictEqual(bytes("2XB"), Result.fail({ _tag: "NotASize" }))
    assert.deepStrictEqual(bytes("-1GB"), Result.fail({ _tag: "NotASize" }))
  })

  it("a size without its unit is not taken for bytes: it suggests megabytes", () => {
    assert.deepStrictEqual(bytes("300"), Result.fail({ _tag: "MissingUnit", suggestion: "300MB" }))
    assert.deepStrictEqual(bytes("1.5"), Result.fail({ _tag: "MissingUnit", suggestion: "1.5MB" }))
  })

  it("parses durations, including compound ones", () => {
    assert.deepStrictEqual(millis("30d"), Option.some(30 * 86_400_000))
    assert.deepStrictEqual(millis("12h"), Option.some(12 * 3_600_000))
    assert.deepStrictEqual(millis("1d12h"), Option.some(36 * 3_600_000))
    assert.deepStrictEqual(millis("1d 12h"), Option.some(36 * 3_600_000))
    assert.deepStrictEqual(millis("90m"), Option.some(90 * 60_000))
    assert.deepStrictEqual(millis("2w"), Option.some(14 * 86_400_000))
    assert.deepStrictEqual(millis("1.5h"), Option.some(90 * 60_000))
    assert.deepStrictEqual(millis("500ms"), Option.some(500))
    assert.isTrue(Option.isNone(millis("30")))
    assert.isTrue(Option.isNone(millis("soon")))
    assert.isTrue(Option.isNone(millis("3y")))
  })
})

describe("format", () => {
  it("durations, sizes and counts read naturally", () => {
    assert.strictEqual(Format.duration(0), "0 ms")
    assert.strictEqual(Format.duration(412.4), "412 ms")
    assert.strictEqual(Format.duration(1234), "1.23 s")
    assert.strictEqual(Format.duration(125_000), "2 min 5 s")
    assert.strictEqual(Format.bytes(999), "999 B")
    assert.strictEqual(Format.bytes(1500), "1.50 KB")
    assert.strictEqual(Format.bytes(2e9), "2.00 GB")
    assert.strictEqual(Format.counts({ cached: 1, executed: 3 }), "3 executed, 1 cached")
    assert.strictEqual(Format.counts({}), "none")
  })

  it("aligns table columns, ignoring colour codes", () => {
    const text = Format.table([["a", "\x1b[32mok\x1b[39m", "x"], ["long name", "failed", "y"]])
    assert.deepStrictEqual(text.replace(/\x1b\[\d+m/g, "").split("\n"), ["a          ok      x", "long name  failed  y"])
  })
})
