/**
 * The manifest of a cache entry and its on-store form.
 *
 * Stored as three lines: the SHA-256 of the second line; the manifest
 * without its recipe as JSON (the head), which also holds the recipe's byte
 * length, CRC-32 and SHA-256; and the recipe as JSON. A hit parses the head
 * alone and verifies the head by its SHA-256 (one hash over the output and a
 * few fields) and the recipe (which holds the parts of the code closure, for
 * `explain`, and is most of the file) by its length and CRC-32: any flipped
 * byte, truncation or half-written file fails, at a fraction of the cost of
 * hashing the recipe. The recipe's SHA-256 is checked when the recipe is
 * read, before any of it is used.
 *
 * Entries written before the recipe had its own checksum (one SHA-256 over
 * head and recipe, no `manifest` field in the head) are read too, with their
 * one check made at once.
 *
 * Stores take and give manifests as values; each backend writes them with
 * `encode` and reads them back with `decode`, so the format and its checks
 * are the same everywhere.
 *
 * @since 0.1.0
 */
import { hash } from "node:crypto"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Metric } from "./Metrics.ts"
import type { Recipe } from "./Recipe.ts"
import type { Trace } from "./Trace.ts"

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
  /** The metrics logged while it was computed, added to a run it is served to (absent when none). */
  readonly metrics?: ReadonlyArray<Metric> | undefined
  /**
   * What the computation used: the files it read and whether it drew random
   * numbers (see `Trace`). The entry is served only while it holds. Absent
   * for values stored without a seed.
   */
  readonly trace?: Trace | undefined
}

/**
 * What a store holds under a key is not a valid manifest of that key: a
 * checksum mismatch, a truncation, not JSON, or another key's manifest.
 * Such an entry is never served; `Cache` moves it aside and recomputes it.
 *
 * @since 0.1.0
 */
export class CorruptManifestError extends Schema.TaggedError<CorruptManifestError>()("CorruptManifestError", {
  key: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `the manifest of cache entry ${this.key} is corrupt: ${this.reason}`
  }
}

/** `node:zlib`'s CRC-32, loaded at the first manifest (loading the module costs about 2 ms, which `expops --version` need not pay). */
let zlib: typeof import("node:zlib") | undefined
const crc32 = (bytes: Uint8Array): number => (zlib ??= process.getBuiltinModule("node:zlib")).crc32(bytes)

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const HEADER = 65 // 64 hex digits and a newline

/**
 * The version of the stored form, first in the head: `{"manifest":2,`.
 * Absent in the first form (one checksum over head and recipe).
 */
const FORMAT = 2
const MARK = encoder.encode(`{"manifest":${FORMAT},`)

/** What the head says of the recipe line, so a hit can check its length and a read of the recipe its content. */
interface RecipeRef {
  readonly bytes: number
  readonly crc32: number
  readonly sha256: string
}

/** What the head adds to the manifest's JSON, bar the digits of the recipe's length: `{"manifest":2,"recipe":{"bytes":,"crc32":<10>,"sha256":"<64>"},`. */
const HEAD_OVERHEAD = `{"manifest":${FORMAT},"recipe":{"bytes":,"crc32":,"sha256":""},`.length + 10 + 64

/**
 * A manifest with its size filled in.
 *
 * @since 0.1.0
 */
export const make = (fields: Omit<Manifest, "size">): Manifest => {
  const blobBytes = fields.blobs.reduce((n, b) => n + b.size, 0)
  // The size counts the manifest too, measured before its own `size` field is
  // filled in: a few digits short, which no budget will notice.
  const { recipe, ...rest } = fields
  const recipeLength = JSON.stringify(recipe).length
  return {
    ...fields,
    size: HEADER + HEAD_OVERHEAD + String(recipeLength).length + JSON.stringify(rest).length + 1 + recipeLength + blobBytes
  }
}

/**
 * The stored form: the head's checksum line, the head (the manifest without
 * its recipe, with the recipe's length and checksum), then the recipe.
 *
 * @since 0.1.0
 */
export const encode = (manifest: Manifest): Uint8Array => {
  const { recipe, ...rest } = manifest
  const recipeBytes = encoder.encode(JSON.stringify(recipe))
  const ref: RecipeRef = { bytes: recipeBytes.byteLength, crc32: crc32(recipeBytes), sha256: hash("sha256", recipeBytes, "hex") }
  // JSON.stringify never writes a raw line break, so one ends the head.
  const head = encoder.encode(JSON.stringify({ manifest: FORMAT, recipe: ref, ...rest }))
  const out = new Uint8Array(HEADER + head.byteLength + 1 + recipeBytes.byteLength)
  encoder.encodeInto(hash("sha256", head, "hex"), out)
  out[HEADER - 1] = 0x0a
  out.set(head, HEADER)
  out[HEADER + head.byteLength] = 0x0a
  out.set(recipeBytes, HEADER + head.byteLength + 1)
  return out
}

const corrupt = (key: string, reason: string, cause?: unknown) =>
  new CorruptManifestError({ key, reason, ...(cause === undefined ? {} : { cause }) })

const startsWith = (bytes: Uint8Array, at: number, prefix: Uint8Array): boolean => {
  if (bytes.byteLength < at + prefix.byteLength) return false
  for (let i = 0; i < prefix.byteLength; i++) if (bytes[at + i] !== prefix[i]) return false
  return true
}

type Head = Omit<Manifest, "recipe"> & { readonly manifest?: number; readonly recipe?: RecipeRef }

/** The manifest of a verified head, its recipe parsed (and, in the current form, verified) on first read. */
const fromHead = (parsed: Head, recipe: () => Recipe): Manifest => {
  let read: Recipe | undefined
  // A literal with its getter costs less than adding the property to the parsed object.
  const manifest: { -readonly [K in keyof Manifest]: Manifest[K] } = {
    key: parsed.key,
    output: parsed.output,
    blobs: parsed.blobs,
    size: parsed.size,
    createdAt: parsed.createdAt,
    durationMs: parsed.durationMs,
    get recipe() {
      return read ??= recipe()
    }
  }
  // Absent when none: a hit without metrics replays nothing.
  if (parsed.metrics !== undefined) manifest.metrics = parsed.metrics
  if (parsed.trace !== undefined) manifest.trace = parsed.trace
  return manifest
}

const parseHead = (text: string, key: string): Head | CorruptManifestError => {
  let parsed: Head
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    return corrupt(key, `not JSON: ${String(cause)}`, cause)
  }
  if (parsed?.key !== key) return corrupt(key, `holds key ${parsed?.key}`)
  return parsed
}

/**
 * The current form. The head is verified now (SHA-256), and so is every byte
 * of the recipe: now by its length and CRC-32 (a fifth of a SHA-256's cost),
 * which finds any flipped byte of a torn or damaged file; its SHA-256 too
 * unless `lazy`, else when the recipe is first read, before it is used.
 */
const decodeCurrent = (bytes: Uint8Array, key: string, lazy: boolean, stable: boolean): Manifest | CorruptManifestError => {
  // Buffer's methods on the bytes where they are: no view or decoder object per call on the hit path.
  // (Buffer's indexOf is a memchr; a typed array's walks the elements one by one.)
  const end = Buffer.prototype.indexOf.call(bytes, 0x0a, HEADER)
  if (end === -1) return corrupt(key, "no recipe")
  if (!matchesHex(bytes, hash("sha256", bytes.subarray(HEADER, end), "hex"))) return corrupt(key, "checksum mismatch")
  const parsed = parseHead(utf8Slice.call(bytes, HEADER, end), key)
  if (parsed instanceof CorruptManifestError) return parsed
  const ref = parsed.recipe
  if (typeof ref?.bytes !== "number" || typeof ref.crc32 !== "number" || typeof ref.sha256 !== "string") {
    return corrupt(key, "no recipe checksum")
  }
  const length = bytes.byteLength - end - 1
  if (length !== ref.bytes) return corrupt(key, `truncated recipe (${length} of ${ref.bytes} bytes)`)
  const recipeBytes = bytes.subarray(end + 1)
  if (crc32(recipeBytes) !== ref.crc32) return corrupt(key, "recipe checksum mismatch")
  if (!lazy) {
    const read = readRecipe(recipeBytes, ref, key)
    if (read instanceof CorruptManifestError) return read
    return fromHead(parsed, () => read)
  }
  // Kept where it is when the store says the bytes stay as they are; else
  // copied, as a one-byte string: a lossless copy on the heap, cheaper to collect than a buffer.
  const kept = stable ? recipeBytes : latin1Slice.call(bytes, end + 1, bytes.byteLength)
  return fromHead(parsed, () => {
    const read = readRecipe(typeof kept === "string" ? Buffer.from(kept, "latin1") : kept, ref, key)
    // Thrown, as a getter can only throw: readers of `getManifest`'s recipe are told so (see `CacheStore`).
    if (read instanceof CorruptManifestError) throw read
    return read
  })
}

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice: (this: Uint8Array, start: number, end: number) => string }).utf8Slice
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice

/** Whether the checksum line (the first 64 bytes) spells `hex`. */
const matchesHex = (bytes: Uint8Array, hex: string): boolean => {
  for (let i = 0; i < 64; i++) if (bytes[i] !== hex.charCodeAt(i)) return false
  return true
}

const readRecipe = (bytes: Uint8Array, ref: RecipeRef, key: string): Recipe | CorruptManifestError => {
  if (hash("sha256", bytes, "hex") !== ref.sha256) return corrupt(key, "recipe checksum mismatch")
  try {
    return JSON.parse(decoder.decode(bytes)) as Recipe
  } catch (cause) {
    return corrupt(key, `recipe not JSON: ${String(cause)}`, cause)
  }
}

/** The first form: one checksum over head and recipe, checked at once. */
const decodeFirst = (bytes: Uint8Array, key: string): Manifest | CorruptManifestError => {
  const body = bytes.subarray(HEADER)
  if (hash("sha256", body, "hex") !== decoder.decode(bytes.subarray(0, HEADER - 1))) return corrupt(key, "checksum mismatch")
  const text = decoder.decode(body)
  const split = text.indexOf("\n")
  if (split === -1) return corrupt(key, "no recipe")
  const parsed = parseHead(text.slice(0, split), key)
  if (parsed instanceof CorruptManifestError) return parsed
  if (parsed.manifest !== undefined) return corrupt(key, `a head of form ${parsed.manifest} under the first form's checksum`)
  return fromHead(parsed, () => JSON.parse(text.slice(split + 1)) as Recipe)
}

/**
 * Reads what a store found under `key`: nothing (`undefined`) is none; bytes
 * are verified and parsed, or fail with `CorruptManifestError`. Synchronous
 * (an `Exit`), since it runs on every hit. Keeps no reference to `bytes`, so
 * a store may pass a view of a buffer it reuses, unless it says `stable`:
 * the bytes will stay as they are, and the recipe's are kept without a copy.
 *
 * With `lazyRecipe` (for serving an entry: `getManifest`), the recipe's own
 * checksum is checked when the recipe is first read, and a mismatch then
 * throws the `CorruptManifestError`; its length is checked at once, so a
 * torn file is still found here. Without it (inspection: `peekManifest`),
 * everything is checked here.
 *
 * @since 0.1.0
 */
export const decode = (
  bytes: Uint8Array | undefined,
  key: string,
  options?: { readonly lazyRecipe?: boolean | undefined; readonly stable?: boolean | undefined }
): Exit.Exit<Option.Option<Manifest>, CorruptManifestError> => {
  if (bytes === undefined) return Exit.succeed(Option.none())
  if (bytes.byteLength < HEADER + 2 || bytes[HEADER - 1] !== 0x0a) return Exit.fail(corrupt(key, `truncated (${bytes.byteLength} bytes)`))
  // The mark picks the check; either check alone decides: a flipped mark fails the check it picks.
  const read = startsWith(bytes, HEADER, MARK) ? decodeCurrent(bytes, key, options?.lazyRecipe === true, options?.stable === true) : decodeFirst(bytes, key)
  return read instanceof CorruptManifestError ? Exit.fail(read) : Exit.succeed(Option.some(read))
}
