import { assert, describe, it } from "vitest"
import { whileLoading } from "../../src/internal/deferredSegmenter.ts"

const graphemes = (segmenter: { segment: (input: string) => Iterable<{ segment: string }> }, text: string) =>
  Array.from(segmenter.segment(text), (s) => s.segment)

describe("deferredSegmenter", () => {
  it("a segmenter made while loading segments as Node's does, and Node's constructor is back after", async () => {
    const Native = Intl.Segmenter
    const text = "e\u0301👩‍👩‍👧 ok"
    const made = await whileLoading(async () => {
      assert.notStrictEqual(Intl.Segmenter, Native)
      return new Intl.Segmenter(undefined, { granularity: "grapheme" })
    })
    assert.strictEqual(Intl.Segmenter, Native)
    assert.deepStrictEqual(graphemes(made, text), graphemes(new Native(undefined, { granularity: "grapheme" }), text))
    assert.strictEqual(made.resolvedOptions().granularity, "grapheme")
  })

  it("Node's constructor is put back when loading fails", async () => {
    const Native = Intl.Segmenter
    const failed = await whileLoading(() => Promise.reject(new Error("no such module"))).then(() => undefined, (error) => error)
    assert.strictEqual((failed as Error).message, "no such module")
    assert.strictEqual(Intl.Segmenter, Native)
  })
})
