import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { crc32 as zlibCrc32 } from "node:zlib"
import { Exit, Option } from "effect"
import { CodeParts, Manifest, Recipe } from "@expops/core"

const KEY = "ab".repeat(32)

const recipe: Recipe.Recipe = {
  kind: "step",
  name: "fit ✓",
  format: Recipe.CACHE_FORMAT_VERSION,
  code: "c".repeat(64),
  codeParts: [{ kind: "body", name: "fit", digest: "d".repeat(64) } as never],
  input: "i".repeat(64),
  inputParts: {},
  config: "k".repeat(64),
  configValue: { rate: 0.1, label: "é" },
  schemas: { input: "a", output: "b", config: "c" },
  seed: 7
}

const manifest = Manifest.make({ key: KEY, recipe, output: { id: 1, text: "é ✓" }, blobs: [], createdAt: 1, durationMs: 2 })

const encoded = Manifest.encode(manifest)

// As `Cache` stores it: the code parts apart, in a blob the manifest names.
const { codeParts, ...withoutParts } = recipe
const parts = CodeParts.encode(codeParts!)
const apart = Manifest.make({
  key: KEY,
  recipe: withoutParts,
  output: { id: 1, text: "é ✓" },
  blobs: [],
  codeParts: { digest: parts.digest, size: parts.size },
  createdAt: 1,
  durationMs: 2
})

/** The manifest a successful decode found. */
const decoded = (exit: Exit.Exit<Option.Option<Manifest.Manifest>, Manifest.CorruptManifestError>): Manifest.Manifest => {
  assert.isTrue(Exit.isSuccess(exit), `decode: ${exit}`)
  return Option.getOrThrow((exit as Exit.Success<Option.Option<Manifest.Manifest>>).value)
}

const corruptReason = (exit: Exit.Exit<Option.Option<Manifest.Manifest>, Manifest.CorruptManifestError>): string => {
  assert.isTrue(Exit.isFailure(exit), "decoded")
  return Option.getOrThrow(Exit.findErrorOption(exit as Exit.Exit<never, Manifest.CorruptManifestError>)).reason
}

describe("Manifest", () => {
  it("round-trips, non-ASCII text included, the recipe parsed when read", () => {
    assert.deepStrictEqual(Manifest.toPlain(decoded(Manifest.decode(encoded, KEY))), manifest)
    const none = Manifest.decode(undefined, KEY)
    assert.isTrue(Exit.isSuccess(none) && Option.isNone(none.value))
  })

  it("keeps nothing of the buffer it read: a store may reuse it", () => {
    const buffer = encoded.slice()
    const read = decoded(Manifest.decode(buffer, KEY))
    buffer.fill(0)
    assert.deepStrictEqual(read.recipe, recipe)
    assert.deepStrictEqual(read.output, manifest.output)
  })

  it("round-trips the reference to code parts stored apart; the recipe has none of its own", () => {
    const read = decoded(Manifest.decode(Manifest.encode(apart), KEY))
    assert.deepStrictEqual(Manifest.toPlain(read), apart)
    assert.deepStrictEqual(read.codeParts, { digest: parts.digest, size: parts.size })
    assert.isUndefined(read.recipe.codeParts)
  })

  it("serializes whole: JSON and toPlain give the lazy fields too", () => {
    for (const original of [manifest, apart]) {
      const read = decoded(Manifest.decode(Manifest.encode(original), KEY))
      assert.deepStrictEqual(JSON.parse(JSON.stringify(read)), JSON.parse(JSON.stringify(original)))
      assert.deepStrictEqual(Manifest.toPlain(read), original)
      // A spread copies only the head: what toPlain is for.
      assert.isFalse("recipe" in { ...read })
    }
  })

  it("fails on a flipped byte anywhere: checksum line, head or recipe", () => {
    for (const stored of [encoded, Manifest.encode(apart)]) {
      for (let at = 0; at < stored.byteLength; at++) {
        const bytes = stored.slice()
        bytes[at]! ^= 0x20
        assert.match(corruptReason(Manifest.decode(bytes, KEY)), /checksum|truncated/, `byte ${at}`)
      }
    }
  })

  it("fails on a torn file: every truncation", () => {
    for (const stored of [encoded, Manifest.encode(apart)]) {
      for (let length = 0; length < stored.byteLength; length++) {
        assert.isTrue(Exit.isFailure(Manifest.decode(stored.subarray(0, length), KEY)), `${length} bytes`)
      }
    }
  })

  it("opens with the CRC-32 and the length of the rest, in 8 lower-case hex digits each", () => {
    const line = Buffer.from(encoded.subarray(0, 17)).toString("latin1")
    assert.match(line, /^[0-9a-f]{16}\n$/)
    assert.strictEqual(Number.parseInt(line.slice(0, 8), 16), zlibCrc32(encoded.subarray(17)))
    assert.strictEqual(Number.parseInt(line.slice(8, 16), 16), encoded.byteLength - 17)
  })

  it("says how much of a torn manifest is there", () => {
    assert.strictEqual(corruptReason(Manifest.decode(encoded.subarray(0, 40), KEY)), `truncated (40 of ${encoded.byteLength} bytes)`)
    const longer = Buffer.concat([encoded, Buffer.from("x")])
    assert.match(corruptReason(Manifest.decode(longer, KEY)), /^\d+ bytes where its checksum line says \d+$/)
  })

  it("reads and verifies a manifest written before format 5, under its SHA-256 line", () => {
    const body = encoded.subarray(17)
    const legacy = Buffer.concat([Buffer.from(`${createHash("sha256").update(body).digest("hex")}\n`, "latin1"), body])
    assert.deepStrictEqual(Manifest.toPlain(decoded(Manifest.decode(legacy, KEY))), manifest)
    for (let at = 0; at < legacy.byteLength; at++) {
      const bytes = legacy.slice()
      bytes[at]! ^= 0x20
      assert.match(corruptReason(Manifest.decode(bytes, KEY)), /checksum|truncated/, `byte ${at}`)
    }
  })

  it("is another key's manifest: corrupt", () => {
    assert.match(corruptReason(Manifest.decode(encoded, "cd".repeat(32))), /holds key/)
  })
})
