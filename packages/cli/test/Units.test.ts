import { assert, describe, it } from "@effect/vitest"
import { Format, Units } from "@expops/cli"

describe("units", () => {
  it("parses sizes with decimal and binary units", () => {
    assert.strictEqual(Units.parseSize("2GB"), 2e9)
    assert.strictEqual(Units.parseSize("500 MB"), 5e8)
    assert.strictEqual(Units.parseSize("1.5GiB"), Math.floor(1.5 * 1024 ** 3))
    assert.strictEqual(Units.parseSize("1024"), 1024)
    assert.strictEqual(Units.parseSize("0"), 0)
    assert.isUndefined(Units.parseSize("lots"))
    assert.isUndefined(Units.parseSize("2XB"))
    assert.isUndefined(Units.parseSize("-1GB"))
  })

  it("parses durations, including compound ones", () => {
    assert.strictEqual(Units.parseDuration("30d"), 30 * 86_400_000)
    assert.strictEqual(Units.parseDuration("12h"), 12 * 3_600_000)
    assert.strictEqual(Units.parseDuration("1d12h"), 36 * 3_600_000)
    assert.strictEqual(Units.parseDuration("90m"), 90 * 60_000)
    assert.strictEqual(Units.parseDuration("2w"), 14 * 86_400_000)
    assert.isUndefined(Units.parseDuration("30"))
    assert.isUndefined(Units.parseDuration("soon"))
    assert.isUndefined(Units.parseDuration("3y"))
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
