import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { Effect, Layer, Option, Schema } from "effect"
import { Cache, CacheStore, CodeParts, Explain, Manifest, Reproducibility, Step } from "@expops/core"

const Payload = Schema.Struct({ id: Schema.Int, text: Schema.String })

const HELPER = "abcdefghij"

const payload = Step.make({
  name: "payload",
  input: Schema.Int,
  output: Payload,
  run: (id) => Effect.succeed({ id, text: `${id}:`.padEnd(1000, HELPER) })
})

/** An in-memory store that counts blob reads, and a cache over it. */
const counted = () => {
  const memory = CacheStore.makeMemory()
  const reads: Array<string> = []
  const store: CacheStore.Shape = {
    ...memory,
    getBlob: (digest) => Effect.suspend(() => (reads.push(digest), memory.getBlob(digest)))
  }
  const layer = Layer.merge(Cache.layer().pipe(Layer.provide(Layer.succeed(CacheStore.CacheStore, store))), Reproducibility.layer(1))
  return { memory, store, reads, layer }
}

const onlyManifest = (memory: ReturnType<typeof CacheStore.makeMemory>) =>
  Effect.map(memory.listManifests, (listed) => {
    assert.strictEqual(listed.length, 1)
    return listed[0]!.key
  }).pipe(Effect.flatMap((key) => Effect.map(memory.peekManifest(key), Option.getOrThrow)))

describe("CodeParts", () => {
  it.effect("a step's code parts are stored once, apart from its manifests, and a hit does not read them", () =>
    Effect.gen(function*() {
      const { layer, memory, reads } = counted()
      yield* Effect.provide(Effect.all([payload(1), payload(2)]), layer)
      const listed = yield* memory.listManifests
      assert.strictEqual(listed.length, 2)
      const stored = CodeParts.encode(payload.codeParts)
      // One blob for both entries: the definition's parts, named by their digest.
      assert.deepStrictEqual([...memory.blobs.keys()], [stored.digest])
      assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(memory.blobs.get(stored.digest))), payload.codeParts)
      for (const { key } of listed) {
        const manifest = Option.getOrThrow(yield* memory.peekManifest(key))
        assert.deepStrictEqual(manifest.codeParts, { digest: stored.digest, size: stored.size })
        // Not among the output's blobs, which a hit fetches; maintenance counts it with them.
        assert.deepStrictEqual(manifest.blobs, [])
        assert.deepStrictEqual(Manifest.referencedBlobs(manifest), [{ digest: stored.digest, size: stored.size }])
        assert.isUndefined(manifest.recipe.codeParts)
        // The manifest a hit reads and hashes is smaller by about the parts' size.
        const { codeParts: _, ...withoutRef } = manifest
        const inline = Manifest.encode({ ...withoutRef, recipe: { ...manifest.recipe, codeParts: payload.codeParts } })
        // (It holds the reference instead: about 110 bytes.)
        assert.isAtMost(memory.manifests.get(key)!.byteLength, inline.byteLength - stored.size + 120)
        assert.notInclude(new TextDecoder().decode(memory.manifests.get(key)), JSON.stringify(payload.codeParts[0]))
      }
      assert.strictEqual(yield* Effect.provide(payload(1), layer).pipe(Effect.map((p) => p.id)), 1)
      assert.deepStrictEqual(reads, [], "a hit read a blob")
    }))

  it.effect("recipeOf reads them back, verified; a missing or corrupt blob is said, not a failure, and the entry is still served", () =>
    Effect.gen(function*() {
      const { layer, memory, reads, store } = counted()
      const first = yield* Effect.provide(payload(7), layer)
      const manifest = yield* onlyManifest(memory)
      const recipe = yield* CodeParts.recipeOf(store, manifest)
      assert.deepStrictEqual(recipe.codeParts, payload.codeParts)
      assert.isUndefined(recipe.codePartsUnavailable)
      const digest = manifest.codeParts!.digest
      assert.deepStrictEqual(reads, [digest])

      // A flipped byte: detected by the digest, never parsed as parts.
      const good = memory.blobs.get(digest)!
      const flipped = good.slice()
      flipped[10]! ^= 0x01
      memory.blobs.set(digest, flipped)
      const corrupt = yield* CodeParts.recipeOf(store, manifest)
      assert.isUndefined(corrupt.codeParts)
      assert.match(corrupt.codePartsUnavailable!, /corrupt/)
      // Truncated: the same.
      memory.blobs.set(digest, good.subarray(0, good.byteLength - 1))
      assert.match((yield* CodeParts.recipeOf(store, manifest)).codePartsUnavailable!, /corrupt/)

      memory.blobs.delete(digest)
      const missing = yield* CodeParts.recipeOf(store, manifest)
      assert.strictEqual(missing.codePartsUnavailable, `its blob ${digest} is missing from the cache`)
      // What explain says, comparing with an entry whose parts are readable.
      const changes = Explain.diff({ ...recipe, code: "other" }, missing)
      assert.deepStrictEqual(changes.map((c) => c.part), ["code"])
      assert.match(changes[0]!.message, /code parts of this entry's recipe cannot be read, its blob .* is missing/)

      // The output does not need them: the entry is served as it was.
      assert.deepStrictEqual(yield* Effect.provide(payload(7), layer), first)
      assert.strictEqual((yield* memory.listManifests).length, 1)
    }))

  it("decode refuses bytes that match their digest but are not code parts", () => {
    const bytes = new TextEncoder().encode("{\"not\":\"parts\"}")
    const stored = CodeParts.decode(CodeParts.encode([]).digest, Option.some(bytes))
    assert.match("unavailable" in stored ? stored.unavailable : "", /corrupt/)
    const own = CodeParts.decode(createHash("sha256").update(bytes).digest("hex"), Option.some(bytes))
    assert.match("unavailable" in own ? own.unavailable : "", /does not hold code parts/)
  })
})
