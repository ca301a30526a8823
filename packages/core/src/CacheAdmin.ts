/**
 * Cache maintenance: statistics, listing, verification, pruning, clearing.
 * What `expops cache stats|ls|verify|prune|clear` call, on any backend.
 *
 * `fromStore` works over any `CacheStore` by reading manifests (with
 * `peekManifest`, so maintenance never counts as a use of an entry). A backend with an
 * index of its own (the local SQLite index) provides a faster layer with the
 * same contract, and real last-access times for least-recently-used pruning.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CacheStore from "./CacheStore.ts"
import * as Manifest from "./Manifest.ts"
import type { Kind } from "./Recipe.ts"

/**
 * @since 0.1.0
 */
export interface EntrySummary {
  readonly key: string
  readonly kind: Kind
  readonly name: string
  /** Manifest plus blobs, in bytes. */
  readonly size: number
  readonly createdAt: number
  /** Last time the entry was read or written; `createdAt` where the backend does not track reads. */
  readonly lastAccessAt: number
}

/**
 * @since 0.1.0
 */
export interface Stats {
  readonly entries: number
  /** Bytes of manifests plus the blobs they reference. */
  readonly bytes: number
  readonly blobs: number
  readonly blobBytes: number
  readonly byName: ReadonlyArray<{ readonly kind: Kind; readonly name: string; readonly entries: number; readonly bytes: number }>
}

/**
 * @since 0.1.0
 */
export interface VerifyReport {
  readonly manifests: number
  readonly blobs: number
  /** Manifests whose checksum or format is wrong. */
  readonly corrupt: ReadonlyArray<{ readonly key: string; readonly reason: string }>
  /**
   * Manifests that reference a blob that is missing or whose content does
   * not match its digest. The blob of an entry's code parts (see
   * `CodeParts`), which `explain` alone reads, counts only when corrupt
   * (`codeParts`); a repair moves it aside and keeps the entry.
   */
  readonly badBlobs: ReadonlyArray<{
    readonly key: string
    readonly digest: string
    readonly reason: string
    /** The blob holds the entry's code parts: moved aside by a repair, the entry kept. */
    readonly codeParts?: true | undefined
  }>
  /** Blobs no manifest references (harmless; `prune` removes them). */
  readonly orphanBlobs: ReadonlyArray<string>
  /**
   * Files holding many entries that could not be read at all (a local
   * pack whose table is damaged): moved to the quarantine when found, so
   * the entries they held are misses, recomputed by the next run. Absent
   * when there were none.
   */
  readonly damaged?: ReadonlyArray<{ readonly file: string; readonly reason: string }> | undefined
  /** True when nothing is corrupt or missing. */
  readonly ok: boolean
  /** Whether bad entries were moved aside. */
  readonly repaired: boolean
}

/**
 * @since 0.1.0
 */
export interface PruneOptions {
  /** Keep the most recently used entries within this many bytes. */
  readonly maxSizeBytes?: number | undefined
  /** Remove entries not used for this long. */
  readonly olderThanMs?: number | undefined
  /** Report what would be removed, remove nothing. */
  readonly dryRun?: boolean | undefined
}

/**
 * @since 0.1.0
 */
export interface PruneReport {
  readonly removed: ReadonlyArray<EntrySummary>
  readonly freedBytes: number
  readonly kept: number
  readonly keptBytes: number
  readonly dryRun: boolean
}

/**
 * @since 0.1.0
 */
export interface Shape {
  readonly stats: Effect.Effect<Stats, CacheStore.CacheStoreError>
  /** Newest first. */
  readonly list: (filter?: { readonly name?: string | undefined; readonly kind?: Kind | undefined }) => Effect.Effect<ReadonlyArray<EntrySummary>, CacheStore.CacheStoreError>
  /** Checks every checksum and blob; with `repair`, moves bad entries aside. */
  readonly verify: (options?: { readonly repair?: boolean | undefined }) => Effect.Effect<VerifyReport, CacheStore.CacheStoreError>
  /** Never deletes a blob that a kept manifest references. */
  readonly prune: (options: PruneOptions) => Effect.Effect<PruneReport, CacheStore.CacheStoreError>
  readonly clear: Effect.Effect<{ readonly removed: number; readonly freedBytes: number }, CacheStore.CacheStoreError>
}

/**
 * @since 0.1.0
 */
export class CacheAdmin extends Context.Service<CacheAdmin, Shape>()("expops/CacheAdmin") {}

/**
 * Selects the entries `prune` removes: those older than the age limit, then
 * the least recently used until the rest fits the size budget.
 *
 * @since 0.1.0
 */
export const selectForPruning = (
  entries: ReadonlyArray<EntrySummary>,
  options: PruneOptions,
  now: number
): { readonly remove: Array<EntrySummary>; readonly keep: Array<EntrySummary> } => {
  const byRecency = entries.slice().sort((a, b) => b.lastAccessAt - a.lastAccessAt)
  const keep: Array<EntrySummary> = []
  const remove: Array<EntrySummary> = []
  let size = 0
  for (const entry of byRecency) {
    const tooOld = options.olderThanMs !== undefined && now - entry.lastAccessAt > options.olderThanMs
    const overBudget = options.maxSizeBytes !== undefined && size + entry.size > options.maxSizeBytes
    if (tooOld || overBudget) remove.push(entry)
    else {
      keep.push(entry)
      size += entry.size
    }
  }
  return { remove, keep }
}

/**
 * The report of a prune that removes `selection.remove` and keeps `selection.keep`.
 *
 * @since 0.1.0
 */
export const pruneReport = (
  selection: { readonly remove: ReadonlyArray<EntrySummary>; readonly keep: ReadonlyArray<EntrySummary> },
  dryRun: boolean
): PruneReport => ({
  removed: selection.remove,
  freedBytes: selection.remove.reduce((n, e) => n + e.size, 0),
  kept: selection.keep.length,
  keptBytes: selection.keep.reduce((n, e) => n + e.size, 0),
  dryRun
})

/**
 * Maintenance over a `CacheStore`, reading every manifest.
 *
 * @since 0.1.0
 */
export const fromStore = (store: CacheStore.Shape): Shape => {
  const readAll = Effect.gen(function*() {
    const listed = yield* store.listManifests
    const read = yield* Effect.forEach(listed, (info) =>
      // Inspection, not use: entries looked at do not become recently used.
      store.peekManifest(info.key).pipe(
        Effect.map((found) =>
          // none: removed meanwhile
          Option.isNone(found) ? undefined : { info, manifest: found.value as Manifest.Manifest | undefined, error: undefined }
        ),
        Effect.catchTag("CorruptManifestError", (error) => Effect.succeed({ info, manifest: undefined, error: error.reason }))
      ), { concurrency: 16 })
    return read.filter((r) => r !== undefined)
  })

  const summary = (m: Manifest.Manifest): EntrySummary => ({
    key: m.key,
    kind: m.recipe.kind,
    name: m.recipe.name,
    size: m.size,
    createdAt: m.createdAt,
    lastAccessAt: m.createdAt
  })

  const entries = Effect.map(readAll, (all) => all.flatMap((r) => (r.manifest ? [r.manifest] : [])))

  const list: Shape["list"] = (filter) =>
    Effect.map(entries, (ms) =>
      ms
        .map(summary)
        .filter((e) => (filter?.name === undefined || e.name === filter.name) && (filter?.kind === undefined || e.kind === filter.kind))
        .sort((a, b) => b.createdAt - a.createdAt))

  const stats = Effect.gen(function*() {
    const ms = yield* entries
    const blobs = yield* store.listBlobs
    const byName = new Map<string, { kind: Kind; name: string; entries: number; bytes: number }>()
    for (const m of ms) {
      const id = `${m.recipe.kind}\0${m.recipe.name}`
      const row = byName.get(id) ?? { kind: m.recipe.kind, name: m.recipe.name, entries: 0, bytes: 0 }
      row.entries++
      row.bytes += m.size
      byName.set(id, row)
    }
    return {
      entries: ms.length,
      bytes: ms.reduce((n, m) => n + m.size, 0),
      blobs: blobs.length,
      blobBytes: blobs.reduce((n, b) => n + b.size, 0),
      byName: Array.from(byName.values()).sort((a, b) => b.bytes - a.bytes)
    } satisfies Stats
  })

  const verify: Shape["verify"] = Effect.fnUntraced(function*(options) {
    const all = yield* readAll
    const blobs = yield* store.listBlobs
    const referenced = new Set<string>()
    const corrupt: Array<{ key: string; reason: string }> = []
    const badBlobs: Array<VerifyReport["badBlobs"][number]> = []
    // Each blob is read once, however many entries share it.
    const checked = new Map<string, string | undefined>()
    const check = Effect.fnUntraced(function*(digest: string) {
      if (checked.has(digest)) return checked.get(digest)
      const blob = yield* store.getBlob(digest)
      const reason = Option.isNone(blob)
        ? "missing"
        : createHash("sha256").update(blob.value).digest("hex") !== digest
        ? "content does not match its digest"
        : undefined
      checked.set(digest, reason)
      if (reason !== undefined && Option.isSome(blob) && options?.repair) yield* store.quarantineBlob(digest, reason)
      return reason
    })
    for (const { error, info, manifest } of all) {
      if (manifest === undefined) {
        corrupt.push({ key: info.key, reason: error ?? "unreadable" })
        if (options?.repair) yield* store.quarantineManifest(info.key, error ?? "unreadable")
        continue
      }
      for (const ref of manifest.blobs) {
        referenced.add(ref.digest)
        const reason = yield* check(ref.digest)
        if (reason === undefined) continue
        badBlobs.push({ key: manifest.key, digest: ref.digest, reason })
        if (options?.repair) yield* store.quarantineManifest(manifest.key, `blob ${ref.digest} ${reason}`)
      }
      const codeParts = manifest.codeParts
      if (codeParts !== undefined) {
        referenced.add(codeParts.digest)
        // The code parts (see `CodeParts`) serve `explain` only: the entry is
        // still served without them, and `explain` says they are gone; a local
        // tier holds them only once read. A corrupt copy is reported (and
        // moved aside by a repair, in `check`), the entry stays.
        const reason = yield* check(codeParts.digest)
        if (reason !== undefined && reason !== "missing") badBlobs.push({ key: manifest.key, digest: codeParts.digest, reason, codeParts: true })
      }
    }
    const orphanBlobs = blobs.map((b) => b.digest).filter((d) => !referenced.has(d))
    return {
      manifests: all.length,
      blobs: blobs.length,
      corrupt,
      badBlobs,
      orphanBlobs,
      ok: corrupt.length === 0 && badBlobs.length === 0,
      repaired: options?.repair === true
    } satisfies VerifyReport
  })

  const prune: Shape["prune"] = Effect.fnUntraced(function*(options) {
    const ms = yield* entries
    const now = yield* Clock.currentTimeMillis
    const { keep, remove } = selectForPruning(ms.map(summary), options, now)
    const dryRun = options.dryRun === true
    if (!dryRun) {
      for (const entry of remove) yield* store.deleteManifest(entry.key)
      // Blobs go only once no kept manifest references them.
      const kept = new Set(keep.map((e) => e.key))
      const stillReferenced = new Set(ms.filter((m) => kept.has(m.key)).flatMap((m) => Manifest.referencedBlobs(m).map((b) => b.digest)))
      for (const blob of yield* store.listBlobs) {
        if (!stillReferenced.has(blob.digest)) yield* store.deleteBlob(blob.digest)
      }
    }
    return pruneReport({ remove, keep }, dryRun)
  })

  const clear = Effect.gen(function*() {
    const ms = yield* store.listManifests
    const blobs = yield* store.listBlobs
    for (const m of ms) yield* store.deleteManifest(m.key)
    for (const b of blobs) yield* store.deleteBlob(b.digest)
    return { removed: ms.length, freedBytes: ms.reduce((n, m) => n + m.size, 0) + blobs.reduce((n, b) => n + b.size, 0) }
  })

  return CacheAdmin.of({ stats, list, verify, prune, clear })
}

/**
 * Maintenance over the `CacheStore` in context.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<Shape, never, CacheStore.CacheStore> = CacheStore.CacheStore.useSync(fromStore)

/**
 * Maintenance over the `CacheStore` in context.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<CacheAdmin, never, CacheStore.CacheStore> = Layer.effect(CacheAdmin, make)
