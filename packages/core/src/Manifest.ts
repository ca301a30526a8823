/**
 * The manifest of a cache entry and its on-store form.
 *
 * Stored as one line holding the SHA-256 of the rest, a newline, the
 * manifest without its recipe as JSON, a newline, and the recipe as JSON.
 * Verifying it costs one hash over a small buffer, and any bit flip,
 * truncation or half-written file fails the check. The recipe (which holds
 * the parts of the code closure, for `explain`) is parsed only when read: a
 * cache hit needs the output, not the recipe.
 *
 * @since 0.1.0
 */
import { hash } from "node:crypto"
import type { Recipe } from "./Recipe.ts"

/**
 * @since 0.1.0
 */
export interface BlobRef {
  readonly digest: string
  readonly size: number
}

/**
 * @since 0.1.0
 */
export interface Manifest {
  readonly key: string
  readonly recipe: Recipe
  /** The output, schema-encoded then serialized (see `StoredValue`). */
  readonly output: unknown
  readonly blobs: ReadonlyArray<BlobRef>
  /** Size of the manifest plus its blobs, in bytes. */
  readonly size: number
  /** When the entry was written (epoch ms). */
  readonly createdAt: number
  /** How long computing the output took: the time a hit saves. */
  readonly durationMs: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const HEADER = 65 // 64 hex digits and a newline

/**
 * Why a stored manifest cannot be used.
 *
 * @since 0.1.0
 */
export class CorruptManifestError extends Error {}

/**
 * @since 0.1.0
 */
export const encode = (manifest: Omit<Manifest, "size">): Uint8Array => {
  const blobBytes = manifest.blobs.reduce((n, b) => n + b.size, 0)
  // The size counts the manifest too, measured before its own `size` field is
  // filled in: a few digits short, which no budget will notice.
  const { recipe, ...rest } = manifest
  const recipeJson = JSON.stringify(recipe)
  const size = HEADER + JSON.stringify(rest).length + 1 + recipeJson.length + blobBytes
  // JSON.stringify never writes a raw line break, so one separates the two documents.
  const body = encoder.encode(`${JSON.stringify({ ...rest, size })}\n${recipeJson}`)
  const checksum = hash("sha256", body, "hex")
  const out = new Uint8Array(HEADER + body.byteLength)
  out.set(encoder.encode(checksum + "\n"), 0)
  out.set(body, HEADER)
  return out
}

/**
 * Verifies and parses a stored manifest. Throws `CorruptManifestError` on a
 * checksum mismatch, truncation or a key that is not the one asked for.
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array, expectedKey?: string): Manifest => {
  if (bytes.byteLength < HEADER + 2 || bytes[HEADER - 1] !== 0x0a) {
    throw new CorruptManifestError(`truncated (${bytes.byteLength} bytes)`)
  }
  const checksum = decoder.decode(bytes.subarray(0, HEADER - 1))
  const body = bytes.subarray(HEADER)
  if (hash("sha256", body, "hex") !== checksum) {
    throw new CorruptManifestError("checksum mismatch")
  }
  const text = decoder.decode(body)
  const split = text.indexOf("\n")
  if (split === -1) throw new CorruptManifestError("no recipe")
  let manifest: Manifest
  try {
    manifest = JSON.parse(text.slice(0, split))
  } catch (cause) {
    throw new CorruptManifestError(`not JSON: ${String(cause)}`)
  }
  let recipe: Recipe | undefined
  Object.defineProperty(manifest, "recipe", {
    enumerable: true,
    get: () => {
      if (recipe === undefined) {
        try {
          recipe = JSON.parse(text.slice(split + 1)) as Recipe
        } catch (cause) {
          throw new CorruptManifestError(`recipe not JSON: ${String(cause)}`)
        }
      }
      return recipe
    }
  })
  if (expectedKey !== undefined && manifest.key !== expectedKey) {
    throw new CorruptManifestError(`holds key ${manifest.key}`)
  }
  return manifest
}
