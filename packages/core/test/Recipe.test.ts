import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { Recipe } from "@expops/core"

describe("Recipe", () => {
  it("gives pinned keys: a key that moved would orphan every stored entry", () => {
    const recipe: Recipe.Recipe = {
      kind: "step",
      name: "fit",
      format: 2,
      code: "c".repeat(64),
      version: undefined,
      input: "i".repeat(64),
      inputParts: {},
      config: "e".repeat(64),
      configValue: null,
      schemas: { input: "a".repeat(64), output: "b".repeat(64), config: "d".repeat(64) },
      seed: 123456789,
      rootSeed: 42
    }
    assert.strictEqual(Recipe.key(recipe), "ea2d01922737c7d6dec26d10c9f61329dacb08a183ffcc58b9e79a04cd7eb3f8")
    assert.strictEqual(
      Recipe.key({ ...recipe, kind: "process", version: "2", data: "f".repeat(64) }),
      "290c7a9ccd15133a16ec8159d11df4d23a78d39157355fda8ef84d94b2321df6"
    )
    // A definition's keyer gives the same keys, a lone surrogate in a name included.
    for (const name of ["fit", "é✓", "\uD800"]) {
      const keyOf = Recipe.keyer({ ...recipe, name })
      for (const seed of [0, 123456789, 2 ** 48 - 1]) {
        // The seed is not a part of the key: only a computation's trace says whether it depends on it.
        assert.strictEqual(keyOf({ input: "x".repeat(64), config: "y".repeat(64) }), Recipe.key({ ...recipe, name, input: "x".repeat(64), config: "y".repeat(64), seed }))
      }
    }
    // Digests as calls give them (64 hex digits) take the keyer's fast path: the same keys.
    const digest = (n: number) => createHash("sha256").update(String(n)).digest("hex")
    for (const name of ["fit", "é✓", "\uD800", ""]) {
      for (const fixed of [{ ...recipe, name }, { ...recipe, name, kind: "process" as const, version: "2", data: digest(-1) }]) {
        const keyOf = Recipe.keyer(fixed)
        for (let n = 0; n < 20; n++) {
          const varying = { input: digest(n), config: digest(n + 100) }
          assert.strictEqual(keyOf(varying), Recipe.key({ ...fixed, ...varying }), `${name} ${n}`)
        }
        // Other text: ASCII of that length the same way, the rest (short, not ASCII, a lone surrogate) the general path; the same keys.
        for (const input of ["A".repeat(64), "ab", digest(1).toUpperCase(), `é${"0".repeat(63)}`, `\uD800${"0".repeat(63)}`, `✓${"0".repeat(62)}`]) {
          assert.strictEqual(keyOf({ input, config: digest(2) }), Recipe.key({ ...fixed, input, config: digest(2) }))
        }
      }
    }
    const keyOf = Recipe.keyer({ ...recipe, kind: "process", version: "2", data: "f".repeat(64) })
    assert.strictEqual(keyOf(recipe), "290c7a9ccd15133a16ec8159d11df4d23a78d39157355fda8ef84d94b2321df6")
    // What is kept only to explain is not in the key.
    assert.strictEqual(Recipe.key({ ...recipe, inputParts: { x: "y" }, configValue: { lr: 0.1 }, process: "train" }), Recipe.key(recipe))
  })
})
