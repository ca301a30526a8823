import { assert, describe, it } from "@effect/vitest"
import { hash } from "node:crypto"
import { crc32 } from "node:zlib"
import { Exit, Option } from "effect"
import { Manifest, Recipe } from "@expops/core"
import { ManifestDamage } from "@expops/core/testing"

const KEY = "ab".repeat(32)

const recipe: Recipe.Recipe = {
  kind: "step",
  name: "fit",
  format: Recipe.CACHE_FORMAT_VERSION,
  code: "c".repeat(64),
  codeParts: [{ kind: "body", name: "fit", digest: "d".repeat(64) } as never],
  input: "i".repeat(64),
  inputParts: {},
  config: "k".repeat(64),
  configValue: { rate: 0.1 },
  schemas: { input: "a", output: "b", config: "c" },
  seed: 7
}

const manifest = Manifest.make({ key: KEY, recipe, output: { id: 1, text: "é ✓" }, blobs: [], createdAt: 1, durationMs: 2 })

const encoded = Manifest.encode(manifest)

/** Where the recipe line starts: after the checksum line and the head. */
const recipeStart = encoded.indexOf(0x0a, 65) + 1

const decode = (bytes: Uint8Array, lazyRecipe: boolean) => Manifest.decode(bytes, KEY, { lazyRecipe })

/** The manifest a successful decode found. */
const decoded = (exit: Exit.Exit<Option.Option<Manifest.Manifest>, Manifest.CorruptManifestError>): Manifest.Manifest => {
  assert.isTrue(Exit.isSuccess(exit), `decode: ${exit}`)
  return Option.getOrThrow((exit as Exit.Success<Option.Option<Manifest.Manifest>>).value)
}

const corruptReason = (exit: Exit.Exit<Option.Option<Manifest.Manifest>, Manifest.CorruptManifestError>): string => {
  assert.isTrue(Exit.isFailure(exit), "decoded")
  const error = Exit.findErrorOption(exit as Exit.Exit<never, Manifest.CorruptManifestError>)
  return Option.getOrThrow(error).reason
}

describe("Manifest", () => {
  it("round-trips, with the recipe read at once or when first read", () => {
    for (const lazy of [false, true]) {
      const read = decoded(decode(encoded, lazy))
      assert.deepStrictEqual(read, manifest)
    }
    // From bytes the store keeps as they are: the recipe read from them, where they are.
    assert.deepStrictEqual(decoded(Manifest.decode(encoded, KEY, { lazyRecipe: true, stable: true })), manifest)
    // Measured before its own field is filled in, in characters: a few bytes short.
    assert.isAtMost(Math.abs(manifest.size - encoded.byteLength), 16, "the size counts the manifest's own bytes")
  })

  it("keeps nothing of the buffer it read: a store may reuse it", () => {
    const buffer = encoded.slice()
    const read = decoded(decode(buffer, true))
    buffer.fill(0)
    assert.deepStrictEqual(read.recipe, recipe)
  })

  it("fails on a flipped byte anywhere, head, checksum or recipe, when read to serve", () => {
    for (let at = 0; at < encoded.byteLength; at++) {
      const bytes = encoded.slice()
      bytes[at]! ^= 0x20
      assert.match(corruptReason(decode(bytes, true)), /checksum|truncated|JSON|key|no recipe/, `byte ${at}`)
    }
  })

  it("fails on a torn file: every truncation", () => {
    for (let length = 0; length < encoded.byteLength; length++) {
      assert.isTrue(Exit.isFailure(decode(encoded.subarray(0, length), true)), `${length} bytes`)
    }
    assert.match(corruptReason(decode(encoded.subarray(0, encoded.byteLength - 1), true)), /truncated recipe/)
  })

  it("a damaged recipe that passes its CRC-32 is caught by its SHA-256 before it is used", () => {
    const bytes = ManifestDamage.recipeBehindCrc(encoded)
    assert.strictEqual(crc32(bytes.subarray(recipeStart)), crc32(encoded.subarray(recipeStart)))
    assert.notDeepEqual(bytes, encoded)
    // Served: the head (output, trace, blobs) is intact and verified.
    const served = decoded(decode(bytes, true))
    assert.deepStrictEqual(served.output, manifest.output)
    // Its recipe is never handed out.
    assert.throws(() => served.recipe, /recipe checksum mismatch/)
    try {
      void served.recipe
    } catch (error) {
      assert.instanceOf(error, Manifest.CorruptManifestError)
    }
    // Inspection checks it at once.
    assert.match(corruptReason(decode(bytes, false)), /recipe checksum mismatch/)
  })

  it("reads entries of the first form (one SHA-256 over head and recipe) and fails them when damaged", () => {
    const { recipe: r, ...rest } = manifest
    const body = new TextEncoder().encode(`${JSON.stringify(rest)}\n${JSON.stringify(r)}`)
    const first = new Uint8Array([...new TextEncoder().encode(`${hash("sha256", body, "hex")}\n`), ...body])
    for (const lazy of [false, true]) {
      const read = decoded(decode(first, lazy))
      assert.deepStrictEqual(read, manifest)
    }
    const damaged = first.slice()
    damaged[damaged.byteLength - 3]! ^= 1
    assert.match(corruptReason(decode(damaged, true)), /checksum mismatch/)
  })

  it("is another key's manifest: corrupt", () => {
    assert.match(corruptReason(Manifest.decode(encoded, "cd".repeat(32))), /holds key/)
  })
})
