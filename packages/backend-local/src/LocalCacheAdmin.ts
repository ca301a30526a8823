/**
 * Cache maintenance for the local store, backed by the SQLite index: the
 * `CacheAdmin` contract of core, with real last-access times for
 * least-recently-used pruning and without reading every manifest for
 * `stats`, `list` and `prune`.
 *
 * Each operation first brings the index in line with the files (they are the
 * source of truth): entries written by a process killed before it updated the
 * index are added, rows of entries removed behind its back are dropped.
 * `verify` reads every manifest and blob; with `repair` it moves bad entries
 * into the quarantine and rebuilds the index from the files.
 *
 * Files younger than `GRACE_MS` that no entry references (temp files, blobs
 * whose manifest is not written yet) may belong to a writer in another
 * process, so `prune` and `clear` leave them alone.
 *
 * @since 0.1.0
 */
import { CacheAdmin, type Manifest } from "@expops/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CacheIndex from "./CacheIndex.ts"
import { LocalCacheStore } from "./LocalCacheStore.ts"

/**
 * How old an unreferenced blob or temp file must be before maintenance removes it.
 *
 * @since 0.1.0
 */
export const GRACE_MS = 10 * 60 * 1000

/**
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const store = yield* LocalCacheStore
  const index = yield* CacheIndex.CacheIndex
  const generic = CacheAdmin.fromStore(store)

  const load = (key: string) =>
    store.peekManifest(key).pipe(
      Effect.map(Option.getOrUndefined),
      // Corrupt: not indexed; `verify` reports it.
      Effect.catchTag("CorruptManifestError", () => Effect.succeed(undefined))
    )

  const sync = Effect.gen(function*() {
    yield* index.flush
    yield* index.reconcile(yield* store.manifestKeys, load)
  })

  // `stats` and `clear` are effects, not functions: each gets its span with withSpan.
  const stats: CacheAdmin.Shape["stats"] = Effect.gen(function*() {
    yield* sync
    const byName = yield* index.byName
    const blobs = yield* store.listBlobs
    return {
      entries: byName.reduce((n, row) => n + row.entries, 0),
      bytes: byName.reduce((n, row) => n + row.bytes, 0),
      blobs: blobs.length,
      blobBytes: blobs.reduce((n, b) => n + b.size, 0),
      byName
    }
  }).pipe(Effect.withSpan("LocalCacheAdmin.stats"))

  const list: CacheAdmin.Shape["list"] = Effect.fn("LocalCacheAdmin.list")(function*(filter) {
    yield* sync
    return yield* index.entries(filter)
  })

  const verify: CacheAdmin.Shape["verify"] = Effect.fn("LocalCacheAdmin.verify")(function*(options) {
    yield* index.flush
    const damaged = yield* store.checkPacks
    const checked = yield* generic.verify(options)
    const report = damaged.length === 0 ? checked : { ...checked, damaged, ok: false }
    if (options?.repair === true) {
      const keys = yield* store.manifestKeys
      const manifests: Array<Manifest.Manifest> = []
      for (const key of keys) {
        const manifest = yield* load(key)
        if (manifest !== undefined) manifests.push(manifest)
      }
      yield* index.replaceAll(manifests)
      yield* store.removeTemps(GRACE_MS)
    }
    return report
  })

  /** Deletes blobs no indexed entry references: those of removed entries, and orphans past the grace period. */
  const removeUnreferencedBlobs = Effect.fnUntraced(function*(released: ReadonlySet<string>) {
    const referenced = new Set((yield* index.blobRefs).map(([, digest]) => digest))
    const now = Date.now() // compared with file times, which are real time
    for (const blob of yield* store.blobFiles) {
      if (referenced.has(blob.name)) continue
      if (released.has(blob.name) || now - blob.mtimeMs > GRACE_MS) yield* store.deleteBlob(blob.name)
    }
  })

  const prune: CacheAdmin.Shape["prune"] = Effect.fn("LocalCacheAdmin.prune")(function*(options) {
    yield* sync
    const entries = yield* index.entries()
    const now = yield* Clock.currentTimeMillis
    const { keep, remove } = CacheAdmin.selectForPruning(entries, options, now)
    const dryRun = options.dryRun === true
    if (!dryRun) {
      const removedKeys = new Set(remove.map((e) => e.key))
      const released = new Set((yield* index.blobRefs).filter(([key]) => removedKeys.has(key)).map(([, d]) => d))
      yield* store.deleteManifests(remove.map((e) => e.key))
      yield* removeUnreferencedBlobs(released)
      yield* store.removeTemps(GRACE_MS)
    }
    return CacheAdmin.pruneReport({ remove, keep }, dryRun)
  })

  const clear: CacheAdmin.Shape["clear"] = Effect.gen(function*() {
    yield* index.flush
    const manifests = yield* store.listManifests
    const blobs = yield* store.listBlobs
    yield* store.deleteManifests(manifests.map((m) => m.key))
    for (const blob of blobs) yield* store.deleteBlob(blob.digest)
    yield* index.replaceAll([])
    yield* store.clearQuarantine
    yield* store.removeTemps(GRACE_MS)
    return {
      removed: manifests.length,
      freedBytes: manifests.reduce((n, m) => n + m.size, 0) + blobs.reduce((n, b) => n + b.size, 0)
    }
  }).pipe(Effect.withSpan("LocalCacheAdmin.clear"))

  return CacheAdmin.CacheAdmin.of({ stats, list, verify, prune, clear })
})

/**
 * Maintenance of the local store in context, through its index.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<CacheAdmin.CacheAdmin, never, LocalCacheStore | CacheIndex.CacheIndex> = Layer.effect(
  CacheAdmin.CacheAdmin,
  make
)
