/**
 * The port every cache backend implements: manifests by key (write-once) and
 * content-addressed blobs by SHA-256 digest.
 *
 * Manifests cross the port as values: the backend stores them in the one
 * format of `Manifest` (`encode`) and reads them back through its one check
 * (`decode`: checksum and key), so what `Cache` writes is never parsed back
 * by the backend, and a corrupt manifest reaches callers as a typed
 * `CorruptManifestError`, the same from every backend. Blobs are bytes: their
 * digests, and what to do with an entry that fails, are `Cache`'s business.
 * What a backend must guarantee:
 *
 * - `putManifest` is write-once: when an entry already exists the call stores
 *   nothing and answers `false`; the first writer wins.
 * - a reader never sees part of a write (atomic rename, generation
 *   preconditions, or whatever the medium offers);
 * - `putBlob` is idempotent: blobs are named by the digest of their content.
 *
 * The conformance suite in `@expops/core/testing` checks these on any layer.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Manifest from "./Manifest.ts"

/**
 * A backend operation failed for a reason other than "not there" (a missing
 * entry is `Option.none()`, not an error).
 *
 * @since 0.1.0
 */
export class CacheStoreError extends Schema.TaggedError<CacheStoreError>()("CacheStoreError", {
  /** The backend, e.g. `local`, `gcs`, `memory`. */
  backend: Schema.String,
  /** What was being done: `read manifest`, `write blob`, ... */
  operation: Schema.String,
  /** The file path, object name or key involved. */
  location: Schema.String,
  /** A plain-words description of the cause. */
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `${this.backend} cache: could not ${this.operation} at ${this.location}: ${this.reason}`
  }
}

/**
 * A listed manifest.
 *
 * @since 0.1.0
 */
export interface ManifestInfo {
  readonly key: string
  /** Size of the manifest itself in bytes. */
  readonly size: number
}

/**
 * A listed blob.
 *
 * @since 0.1.0
 */
export interface BlobInfo {
  readonly digest: string
  readonly size: number
}

/**
 * @since 0.1.0
 */
export interface Shape {
  /** Backend name used in messages and reports: `memory`, `local`, `gcs`. */
  readonly backend: string
  /**
   * The manifest stored under `key`, verified; none when there is none. A
   * read to serve the entry: it counts as a use (least-recently-used
   * pruning), and a tiered store keeps a local copy.
   */
  readonly getManifest: (key: string) => Effect.Effect<Option.Option<Manifest.Manifest>, CacheStoreError | Manifest.CorruptManifestError>
  /**
   * Reads like `getManifest`, for inspection (`explain`, `cache verify`,
   * `stats`, `ls`): it does not count as a use and changes nothing, so
   * looking at a cache never makes its entries look recently used nor fills
   * a local tier.
   */
  readonly peekManifest: (key: string) => Effect.Effect<Option.Option<Manifest.Manifest>, CacheStoreError | Manifest.CorruptManifestError>
  /** Write-once. `true` when this call stored the manifest, `false` when one already existed. */
  readonly putManifest: (manifest: Manifest.Manifest) => Effect.Effect<boolean, CacheStoreError>
  readonly deleteManifest: (key: string) => Effect.Effect<void, CacheStoreError>
  /** Moves a manifest that failed verification out of the way, keeping it for inspection. */
  readonly quarantineManifest: (key: string, reason: string) => Effect.Effect<void, CacheStoreError>
  readonly listManifests: Effect.Effect<ReadonlyArray<ManifestInfo>, CacheStoreError>
  readonly getBlob: (digest: string) => Effect.Effect<Option.Option<Uint8Array>, CacheStoreError>
  /**
   * Optional: reads as `getBlob` does and answers the SHA-256 of the bytes
   * read, computed while they are read (a large blob is verified in about
   * the time reading it takes, not twice that). `Cache` uses it when a store
   * has it, and compares the digest itself.
   */
  readonly getBlobHashed?:
    | ((digest: string) => Effect.Effect<Option.Option<{ readonly bytes: Uint8Array; readonly sha256: string }>, CacheStoreError>)
    | undefined
  /** Idempotent: storing a blob that exists is a no-op. */
  readonly putBlob: (digest: string, bytes: Uint8Array) => Effect.Effect<void, CacheStoreError>
  /**
   * Optional: stores `bytes` as `putBlob` does, under their SHA-256, which it
   * computes while writing them and answers. Hashing a large output and then
   * writing it takes the sum of both; a store that can write first and name
   * the blob last (the local store: a temp file renamed to the digest)
   * overlaps them. `Cache` uses it when a store has it.
   */
  readonly hashAndPutBlob?: ((bytes: Uint8Array) => Effect.Effect<string, CacheStoreError>) | undefined
  readonly deleteBlob: (digest: string) => Effect.Effect<void, CacheStoreError>
  /** Moves a blob whose content does not match its digest out of the way. */
  readonly quarantineBlob: (digest: string, reason: string) => Effect.Effect<void, CacheStoreError>
  readonly listBlobs: Effect.Effect<ReadonlyArray<BlobInfo>, CacheStoreError>
}

/**
 * @since 0.1.0
 */
export class CacheStore extends Context.Service<CacheStore, Shape>()("expops/CacheStore") {}

/**
 * A store kept in memory, for tests and for runs that must not touch disk.
 * Manifests are kept in their stored form and blobs are copied in and out,
 * so a caller mutating a value afterwards can never change what is stored,
 * and tests can corrupt entries byte by byte.
 *
 * @since 0.1.0
 */
export const makeMemory = (): Shape & {
  /** Direct access for tests that simulate corruption. */
  readonly manifests: Map<string, Uint8Array>
  readonly blobs: Map<string, Uint8Array>
  readonly quarantined: Array<string>
} => {
  const manifests = new Map<string, Uint8Array>()
  const blobs = new Map<string, Uint8Array>()
  const quarantined: Array<string> = []
  return {
    backend: "memory",
    manifests,
    blobs,
    quarantined,
    getManifest: (key) => Effect.suspend(() => Manifest.decode(manifests.get(key), key)),
    peekManifest: (key) => Effect.suspend(() => Manifest.decode(manifests.get(key), key)),
    putManifest: (manifest) =>
      Effect.sync(() => {
        if (manifests.has(manifest.key)) return false
        manifests.set(manifest.key, Manifest.encode(manifest))
        return true
      }),
    deleteManifest: (key) => Effect.sync(() => void manifests.delete(key)),
    quarantineManifest: (key, reason) =>
      Effect.sync(() => {
        manifests.delete(key)
        quarantined.push(`manifest ${key}: ${reason}`)
      }),
    listManifests: Effect.sync(() => Array.from(manifests, ([key, bytes]) => ({ key, size: bytes.byteLength }))),
    getBlob: (digest) => Effect.sync(() => Option.map(Option.fromNullishOr(blobs.get(digest)), (b) => b.slice())),
    putBlob: (digest, bytes) =>
      Effect.sync(() => {
        if (!blobs.has(digest)) blobs.set(digest, bytes.slice())
      }),
    deleteBlob: (digest) => Effect.sync(() => void blobs.delete(digest)),
    quarantineBlob: (digest, reason) =>
      Effect.sync(() => {
        blobs.delete(digest)
        quarantined.push(`blob ${digest}: ${reason}`)
      }),
    listBlobs: Effect.sync(() => Array.from(blobs, ([digest, bytes]) => ({ digest, size: bytes.byteLength })))
  }
}

/**
 * A fresh in-memory store for each use of the layer.
 *
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<CacheStore> = Layer.effect(CacheStore, Effect.sync(makeMemory))
