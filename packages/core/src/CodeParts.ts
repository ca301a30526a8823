/**
 * The code parts of a recipe, stored apart from the manifests that need them.
 *
 * A recipe's `codeParts` (the body, its definition, each declaration and
 * package its code closure reaches, for `explain`) are most of a manifest:
 * about 3.5 KiB of a 4.9 KiB entry with a 1 KiB output, in every entry of
 * the step. A hit never reads them, yet verifying the manifest hashed them
 * on every hit. So `Cache` stores them once per step definition as a
 * content-addressed blob (the JSON of the parts, named by its SHA-256),
 * referenced by the manifest's `codeParts`, which is read with the recipe,
 * not on a hit, and is not among the output's `blobs`, which a hit fetches.
 * Maintenance counts it as one of the entry's blobs (pruning keeps it while
 * an entry references it; `cache verify` checks it). Only `explain` reads
 * it, here, verifying it against its digest.
 *
 * @since 0.1.0
 */
import { hash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CacheStoreError, Shape as CacheStoreShape } from "./CacheStore.ts"
import type * as CodeFingerprint from "./CodeFingerprint.ts"
import type { BlobRef, Manifest } from "./Manifest.ts"
import type { Recipe } from "./Recipe.ts"

/**
 * The stored form of some code parts: their JSON, and its digest.
 *
 * @since 0.1.0
 */
export interface Stored extends BlobRef {
  readonly bytes: Uint8Array
}

const encoder = new TextEncoder()

// Every entry of a step shares its definition's parts (the same array):
// encoded and hashed once per definition, not once per miss.
const encoded = new WeakMap<ReadonlyArray<CodeFingerprint.Part>, Stored>()

/**
 * The blob that holds `parts`.
 *
 * @since 0.1.0
 */
export const encode = (parts: ReadonlyArray<CodeFingerprint.Part>): Stored => {
  let stored = encoded.get(parts)
  if (stored === undefined) {
    const bytes = encoder.encode(JSON.stringify(parts))
    stored = { digest: hash("sha256", bytes, "hex"), size: bytes.byteLength, bytes }
    encoded.set(parts, stored)
  }
  return stored
}

/**
 * Reads back the parts stored as `encode` stored them, or says why they
 * cannot be (`unavailable`): the blob is gone (removed by hand, or lost with
 * a tier) or its content does not match its digest.
 *
 * @since 0.1.0
 */
export const decode = (
  digest: string,
  bytes: Option.Option<Uint8Array>
): { readonly parts: ReadonlyArray<CodeFingerprint.Part> } | { readonly unavailable: string } => {
  if (Option.isNone(bytes)) return { unavailable: `its blob ${digest} is missing from the cache` }
  if (hash("sha256", bytes.value, "hex") !== digest) {
    return { unavailable: `its blob ${digest} is corrupt (its content does not match its digest)` }
  }
  try {
    const parts: unknown = JSON.parse(Buffer.from(bytes.value.buffer, bytes.value.byteOffset, bytes.value.byteLength).toString("utf8"))
    if (Array.isArray(parts)) return { parts: parts as Array<CodeFingerprint.Part> }
  } catch {
    // Falls through: the digest matched bytes that were never code parts.
  }
  return { unavailable: `its blob ${digest} does not hold code parts` }
}

/**
 * The recipe of `manifest` with its code parts: read from their blob when
 * the entry stored them apart (verified against its digest), else the recipe
 * as stored. When the blob cannot be read back, the recipe says why in
 * `codePartsUnavailable` instead, so `explain` can say so rather than fail.
 * `read` memoizes the blobs of one command: a step's entries share one.
 *
 * @since 0.1.0
 */
export const recipeOf = (
  store: CacheStoreShape,
  manifest: Manifest,
  read: (digest: string) => Effect.Effect<Option.Option<Uint8Array>, CacheStoreError> = store.getBlob
): Effect.Effect<Recipe, CacheStoreError> => {
  const digest = manifest.codeParts?.digest
  if (digest === undefined) return Effect.succeed(manifest.recipe)
  return Effect.map(read(digest), (bytes) => {
    const found = decode(digest, bytes)
    return "parts" in found
      ? { ...manifest.recipe, codeParts: found.parts }
      : { ...manifest.recipe, codePartsUnavailable: found.unavailable }
  })
}
