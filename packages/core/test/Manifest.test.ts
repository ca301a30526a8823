import { assert, describe, it } from "@effect/vitest"
import { hash } from "node:crypto"
import { crc32 } from "node:zlib"
import { Exit, Option } from "effect"
import { Manifest, Recipe } from "@expops/core"

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

/**
 * Sets 4 bytes at `at` so that the CRC-32 of `bytes` becomes `target`: the
 * CRC is affine over GF(2), so the patch is the solution of 32 linear equations.
 */
const forceCrc = (bytes: Uint8Array, at: number, target: number): Uint8Array => {
  const out = bytes.slice()
  out.fill(0, at, at + 4)
  const zeros = crc32(new Uint8Array(bytes.byteLength))
  const effect = (bit: number) => {
    const delta = new Uint8Array(bytes.byteLength)
    delta[at + (bit >> 3)] = 1 << (bit & 7)
    return (crc32(delta) ^ zeros) >>> 0
  }
  // Rows: [column of the matrix as 32 bits, the patch bits it stands for].
  const rows = Array.from({ length: 32 }, (_, bit) => [effect(bit), 2 ** bit] as [number, number])
  let want = (crc32(out) ^ target) >>> 0
  let patch = 0
  for (let b = 31; b >= 0; b--) {
    const pivot = rows.findIndex(([v], i) => i >= 31 - b && ((v >>> b) & 1) === 1)
    assert.isAtLeast(pivot, 0)
    ;[rows[31 - b], rows[pivot]] = [rows[pivot]!, rows[31 - b]!]
    const [pv, pp] = rows[31 - b]!
    for (let i = 0; i < 32; i++) {
      if (i !== 31 - b && ((rows[i]![0] >>> b) & 1) === 1) rows[i] = [(rows[i]![0] ^ pv) >>> 0, rows[i]![1] ^ pp]
    }
  }
  for (let b = 31; b >= 0; b--) {
    if (((want >>> b) & 1) === 1) {
      patch ^= rows[31 - b]![1]
      want = (want ^ rows[31 - b]![0]) >>> 0
    }
  }
  assert.strictEqual(want, 0)
  for (let i = 0; i < 4; i++) out[at + i] = (patch >>> (8 * i)) & 0xff
  assert.strictEqual(crc32(out), target, "forced CRC")
  return out
}

describe("Manifest", () => {
  it("round-trips, with the recipe read at once or when first read", () => {
    for (const lazy of [false, true]) {
      const read = decoded(decode(encoded, lazy))
      assert.deepStrictEqual(read, manifest)
    }
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
    const flipped = encoded.slice()
    flipped[recipeStart + 2]! ^= 1
    const forged = forceCrc(flipped.subarray(recipeStart), 10, crc32(encoded.subarray(recipeStart)))
    const bytes = encoded.slice()
    bytes.set(forged, recipeStart)
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
