import { assert, describe, it } from "@effect/vitest"
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
    assert.strictEqual(Recipe.key(recipe), "02142e451e6ed9a38e08cac73c46b4f712945fc39064a18b8b61456560d5ef74")
    assert.strictEqual(
      Recipe.key({ ...recipe, kind: "process", version: "2", data: "f".repeat(64) }),
      "1b18f3e6175dbf3b05241a46d2f1bbb215f2e8fbb2b5bccb4d10053653e38f35"
    )
    // A definition's keyer gives the same keys, a lone surrogate in a name included.
    for (const name of ["fit", "é✓", "\uD800"]) {
      const keyOf = Recipe.keyer({ ...recipe, name })
      for (const seed of [0, 123456789, 2 ** 48 - 1]) {
        assert.strictEqual(keyOf({ input: "x".repeat(64), config: "y".repeat(64), seed }), Recipe.key({ ...recipe, name, input: "x".repeat(64), config: "y".repeat(64), seed }))
      }
    }
    const keyOf = Recipe.keyer({ ...recipe, kind: "process", version: "2", data: "f".repeat(64) })
    assert.strictEqual(keyOf(recipe), "1b18f3e6175dbf3b05241a46d2f1bbb215f2e8fbb2b5bccb4d10053653e38f35")
    // What is kept only to explain is not in the key.
    assert.strictEqual(Recipe.key({ ...recipe, inputParts: { x: "y" }, configValue: { lr: 0.1 }, process: "train" }), Recipe.key(recipe))
  })
})
