/**
 * The manifest of a cache entry and its on-store form.
 *
 * Stored as one line holding the CRC-32 and the length of the rest (8 hex
 * digits each), a newline, the manifest's head (what a hit reads) as JSON, a
 * newline, and what only inspection reads as JSON: the recipe, and the
 * reference to its code parts.
 *
 * Verifying it costs one native CRC over a small buffer: a truncation, a
 * half-written file, every error of up to three bits in a manifest of up to
 * 11 KiB and every burst of up to 32 fails the check; other damage passes it
 * once in 2^32, and must then still be JSON naming its own key and decode
 * with the output's schema. Why a CRC and not a cryptographic digest: this
 * checksum guards against damage, not against an adversary (whoever can
 * rewrite a manifest can rewrite any digest beside it), and SHA-256 of 2 KiB
 * was an eighth of a hit. Keys and blobs stay SHA-256: they name content.
 * Manifests written before format 5 open with the SHA-256 of the rest (64
 * hex digits) and are still read and verified so.
 *
 * The second document is parsed only when read: a cache hit needs the
 * output, not the recipe. The recipe's largest part, its code parts (for
 * `explain`), is not in the manifest at all when `Cache` stored the entry:
 * it is a blob shared by the entries of a definition (see `CodeParts`), so
 * a hit neither reads nor checks it.
 *
 * Stores take and give manifests as values; each backend writes them with
 * `encode` and reads them back with `decode`, so the format and its checks
 * are the same everywhere.
 *
 * @since 0.1.0
 */
import { hash } from "node:crypto"
import { crc32 } from "node:zlib"
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
  /**
   * The blob that holds the recipe's code parts, stored apart (see
   * `CodeParts`). Not one of `blobs`, which are the output's: a hit fetches
   * those, not this; maintenance counts both as the entry's. Absent when the
   * recipe holds its code parts itself, or has none.
   */
  readonly codeParts?: BlobRef | undefined
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

const encoder = new TextEncoder()
const HEADER = 17 // the CRC-32 and the length of the rest, 8 hex digits each, and a newline
const LEGACY_HEADER = 65 // before format 5: the SHA-256 in 64 hex digits and a newline

/**
 * A manifest with its size filled in.
 *
 * @since 0.1.0
 */
export const make = (fields: Omit<Manifest, "size">): Manifest => {
  const blobBytes = fields.blobs.reduce((n, b) => n + b.size, fields.codeParts?.size ?? 0)
  // The size counts the manifest too, measured before its own `size` field is
  // filled in: a few digits short, which no budget will notice.
  const { codeParts, recipe, ...head } = fields
  return { ...fields, size: HEADER + JSON.stringify(head).length + 1 + JSON.stringify(cold(recipe, codeParts)).length + blobBytes }
}

/** The second document: what only inspection reads. The code parts first, so `decode` sees whether there are any. */
const cold = (recipe: Recipe, codeParts: BlobRef | undefined) => (codeParts === undefined ? { recipe } : { codeParts, recipe })

const WITH_CODE_PARTS = "{\"codeParts\":"

/**
 * The stored form: checksum line, the head as JSON, then the recipe (and the
 * reference to its code parts) as JSON.
 *
 * @since 0.1.0
 */
export const encode = (manifest: Manifest): Uint8Array => {
  const { codeParts, recipe, ...head } = manifest
  // JSON.stringify never writes a raw line break, so one separates the two documents.
  const body = encoder.encode(`${JSON.stringify(head)}\n${JSON.stringify(cold(recipe, codeParts))}`)
  const out = new Uint8Array(HEADER + body.byteLength)
  out.set(encoder.encode(`${hex8(crc32(body))}${hex8(body.byteLength)}\n`), 0)
  out.set(body, HEADER)
  return out
}

/**
 * Every blob an entry references: the output's, and the one of its code
 * parts. What maintenance keeps, counts and checks.
 *
 * @since 0.1.0
 */
export const referencedBlobs = (manifest: Manifest): ReadonlyArray<BlobRef> =>
  manifest.codeParts === undefined ? manifest.blobs : [...manifest.blobs, manifest.codeParts]

const corrupt = (key: string, reason: string, cause?: unknown) =>
  Exit.fail(new CorruptManifestError({ key, reason, ...(cause === undefined ? {} : { cause }) }))

/**
 * Reads what a store found under `key`: nothing (`undefined`) is none; bytes
 * are verified and parsed, or fail with `CorruptManifestError`. Synchronous
 * (an `Exit`), since it runs on every hit. Keeps no reference to `bytes`, so
 * a store may pass a view of a buffer it reuses.
 *
 * @since 0.1.0
 */
export const decode = (bytes: Uint8Array | undefined, key: string): Exit.Exit<Option.Option<Manifest>, CorruptManifestError> => {
  if (bytes === undefined) return Exit.succeed(Option.none())
  const header = bytes[HEADER - 1] === 0x0a ? HEADER : bytes[LEGACY_HEADER - 1] === 0x0a ? LEGACY_HEADER : 0
  if (bytes.byteLength < (header || HEADER) + 2) return corrupt(key, `truncated (${bytes.byteLength} bytes)`)
  if (header === 0) return corrupt(key, "no checksum line")
  const damage = header === HEADER ? crcDamage(bytes) : sha256Damage(bytes)
  if (damage !== undefined) return corrupt(key, damage)
  // Buffer's indexOf is a memchr; a typed array's walks the elements one by one.
  const split = Buffer.prototype.indexOf.call(bytes, 0x0a, header)
  if (split === -1) return corrupt(key, "no recipe")
  let parsed: Omit<Manifest, "recipe">
  try {
    parsed = JSON.parse(utf8Slice.call(bytes, header, split))
  } catch (cause) {
    return corrupt(key, `not JSON: ${String(cause)}`, cause)
  }
  if (parsed?.key !== key) return corrupt(key, `holds key ${parsed?.key}`)
  // Kept for when the recipe is read, as a one-byte string: a lossless copy
  // on the heap, since `bytes` may be a buffer the store reuses.
  return Exit.succeed(Option.some(new Decoded(parsed, latin1Slice.call(bytes, split + 1, bytes.byteLength))))
}

/**
 * A manifest read back: the head's fields as its own, the recipe and the
 * reference to its code parts parsed from the second document when first
 * read. The lazy fields are getters of the class, not of each object: an
 * object literal with getters is built by the runtime's slow path, about a
 * microsecond of the few a hit takes, and most of its garbage. Since they
 * are not own properties, a spread does not copy them: `toPlain` and
 * `toJSON` give every field.
 */
class Decoded implements Manifest {
  readonly key: string
  readonly output: unknown
  readonly blobs: ReadonlyArray<BlobRef>
  readonly size: number
  readonly createdAt: number
  readonly durationMs: number
  // Declared, not defined: absent unless the head has them.
  declare readonly metrics?: ReadonlyArray<Metric> | undefined
  declare readonly trace?: Trace | undefined
  readonly #cold: string
  #rest: { readonly recipe: Recipe; readonly codeParts?: BlobRef } | undefined

  constructor(head: Omit<Manifest, "recipe">, cold: string) {
    this.key = head.key
    this.output = head.output
    this.blobs = head.blobs
    this.size = head.size
    this.createdAt = head.createdAt
    this.durationMs = head.durationMs
    // Absent when none: a hit without metrics replays nothing.
    if (head.metrics !== undefined) (this as { metrics?: ReadonlyArray<Metric> }).metrics = head.metrics
    if (head.trace !== undefined) (this as { trace?: Trace }).trace = head.trace
    this.#cold = cold
  }

  get recipe(): Recipe {
    return this.#parseCold().recipe
  }

  /** There is a reference when the second document opens with it: known without parsing it. */
  get codeParts(): BlobRef | undefined {
    return this.#cold.startsWith(WITH_CODE_PARTS) ? this.#parseCold().codeParts : undefined
  }

  #parseCold() {
    return this.#rest ??= JSON.parse(Buffer.from(this.#cold, "latin1").toString("utf8"))
  }

  toJSON(): Manifest {
    return toPlain(this)
  }
}

/**
 * A manifest as a plain object with every field its own: what a spread or a
 * deep comparison of a manifest read back needs, since the one `decode`
 * answers reads its recipe lazily.
 *
 * @since 0.1.0
 */
export const toPlain = (manifest: Manifest): Manifest => {
  const { codeParts, recipe } = manifest
  return { ...manifest, recipe, ...(codeParts === undefined ? {} : { codeParts }) }
}

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice: (this: Uint8Array, start: number, end: number) => string }).utf8Slice
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice

// Checked on the bytes where they are: no decoder call, and no view but the one checked.

/** What is wrong with a manifest under a CRC-32 line, or `undefined` when nothing is. */
const crcDamage = (bytes: Uint8Array): string | undefined => {
  const body = bytes.subarray(HEADER)
  const length = hexOf(bytes, 8)
  if (length < 0) return "checksum mismatch"
  if (length > body.byteLength) return `truncated (${bytes.byteLength} of ${HEADER + length} bytes)`
  if (length < body.byteLength) return `${bytes.byteLength} bytes where its checksum line says ${HEADER + length}`
  return hexOf(bytes, 0) === crc32(body) >>> 0 ? undefined : "checksum mismatch"
}

/** The same under a SHA-256 line (before format 5). */
const sha256Damage = (bytes: Uint8Array): string | undefined =>
  matchesHex(bytes, hash("sha256", bytes.subarray(LEGACY_HEADER), "hex")) ? undefined : "checksum mismatch"

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, "0")

/** The number the 8 lower-case hex digits from `at` spell, or -1 when they are not such digits. */
const hexOf = (bytes: Uint8Array, at: number): number => {
  let value = 0
  for (let i = at; i < at + 8; i++) {
    const c = bytes[i]!
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1
    if (digit < 0) return -1
    value = value * 16 + digit
  }
  return value
}

/** Whether a legacy checksum line (the first 64 bytes) spells `hex`. */
const matchesHex = (bytes: Uint8Array, hex: string): boolean => {
  for (let i = 0; i < 64; i++) if (bytes[i] !== hex.charCodeAt(i)) return false
  return true
}
