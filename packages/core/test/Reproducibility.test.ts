import { assert, describe, it } from "@effect/vitest"
import { Reproducibility } from "@expops/core"

describe("Reproducibility", () => {
  it("derives the same seed for the same identity, on any machine", () => {
    const a = Reproducibility.derive(42, ["pipeline", "train", "fit", 0])
    assert.strictEqual(a, Reproducibility.derive(42, ["pipeline", "train", "fit", 0]))
    assert.isTrue(Number.isSafeInteger(a) && a >= 0)
    // Pinned: a seed that moved would change every stored key and every random stream.
    assert.strictEqual(a, 67577777977776)
    assert.strictEqual(Reproducibility.derive(7, ["", "", "echo", "ab", "cd", 3]), 65182196590362)
  })

  it("changes with the root seed and with every part of the identity", () => {
    const seeds = new Set([
      Reproducibility.derive(42, ["p", "train", "fit", 0]),
      Reproducibility.derive(43, ["p", "train", "fit", 0]),
      Reproducibility.derive(42, ["q", "train", "fit", 0]),
      Reproducibility.derive(42, ["p", "prepare", "fit", 0]),
      Reproducibility.derive(42, ["p", "train", "split", 0]),
      Reproducibility.derive(42, ["p", "train", "fit", 1]),
      // Parts cannot run into each other.
      Reproducibility.derive(42, ["p", "trainfit", "", 0])
    ])
    assert.strictEqual(seeds.size, 7)
  })
})
