/**
 * Two stores as one: a fast local tier in front of a shared remote one.
 *
 * - Reads try the local tier, then the remote; what comes from the remote
 *   is copied into the local tier once verified, so the next hit stays on
 *   this machine and an object corrupt in the remote never spreads.
 * - Writes go to the remote tier first, then the local one. When the remote
 *   already holds the manifest (another machine won the race), the local
 *   tier takes the remote's copy, so both tiers agree.
 * - When the remote fails (after its retries) the work is not lost: the
 *   local tier still gets the entry and a warning is logged (or, with
 *   `onRemoteFailure: "fail"`, the error is raised after the local write).
 *   A manifest is never sent to the remote after one of its blobs failed to
 *   get there. Remote read failures are misses, with a warning.
 * - Entries that fail verification are quarantined in the tier they were
 *   read from: a corrupt local manifest is moved aside and the remote's read
 *   instead; a manifest read locally is quarantined remotely too only when
 *   the remote holds the same entry, so a local disk fault never removes a
 *   good shared entry.
 *
 * Generic over both tiers: the CLI puts the local-disk store in front of
 * the GCS store; tests use in-memory stores.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { CacheAdmin, CacheStore, Manifest } from "@expops/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/**
 * @since 0.1.0
 */
export interface Options {
  /**
   * What to do when the remote tier fails after its retries: `degrade`
   * (default) logs a warning and carries on with the local tier; `fail`
   * fails the operation (writes still reach the local tier first).
   */
  readonly onRemoteFailure?: "degrade" | "fail" | undefined
}

type Origin = "local" | "remote"

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/**
 * @since 0.1.0
 */
export const make = (local: CacheStore.Shape, remote: CacheStore.Shape, options?: Options): CacheStore.Shape => {
  const degrade = (options?.onRemoteFailure ?? "degrade") === "degrade"
  // Where each key or digest was last served from, to quarantine in the right tier.
  // A manifest's `createdAt` tells whether the remote holds the same entry as the local copy.
  const servedManifests = new Map<string, { readonly origin: Origin; readonly createdAt: number }>()
  const servedBlobs = new Map<string, Origin>()
  // Blobs the remote did not take: their manifests must not go there either.
  const remoteBlobFailures = new Set<string>()
  const warned = new Set<string>()

  /** Logs a warning once per cause (`id`), not once per object. */
  const warnOnce = (message: string, id = message) =>
    Effect.suspend(() => {
      if (warned.has(id)) return Effect.void
      warned.add(id)
      return Effect.logWarning(message)
    })

  /** A remote failure: a warning in `degrade` mode, the error in `fail` mode. */
  const remoteFailed = (error: CacheStore.CacheStoreError, what: string) =>
    degrade
      ? warnOnce(`${what}: ${error.message}; carrying on with the local cache`, `${what}\0${error.operation}\0${error.reason}`)
      : Effect.fail(error)

  /** Runs a remote operation; when the remote fails, `fallback` (after `remoteFailed`). Corrupt data is not a failure of the remote. */
  const remotely = <A, E = never>(effect: Effect.Effect<A, CacheStore.CacheStoreError | E>, fallback: A, what: string) =>
    Effect.catchIf(effect, (error): error is CacheStore.CacheStoreError => error instanceof CacheStore.CacheStoreError, (error) =>
      Effect.as(remoteFailed(error, what), fallback))

  /** The local copy, or none when there is none or it is corrupt (then it is moved aside: the remote may hold a good one). */
  const localManifest = (key: string) =>
    Effect.catchTag(local.getManifest(key), "CorruptManifestError", (error) =>
      Effect.logWarning(`${error.message}; the local copy is moved aside and the remote one is read`).pipe(
        Effect.andThen(local.quarantineManifest(key, error.reason)),
        Effect.as(Option.none<Manifest.Manifest>())
      ))

  const getManifest: CacheStore.Shape["getManifest"] = Effect.fnUntraced(function*(key) {
    const cached = yield* localManifest(key)
    if (Option.isSome(cached)) {
      servedManifests.set(key, { origin: "local", createdAt: cached.value.createdAt })
      return cached
    }
    // Verified by the remote's read (checksum and key): a corrupt one fails here and is never kept.
    const fetched = yield* remotely(remote.getManifest(key), Option.none<Manifest.Manifest>(), "remote cache read failed")
    if (Option.isNone(fetched)) return fetched
    servedManifests.set(key, { origin: "remote", createdAt: fetched.value.createdAt })
    // The local copy first holds the manifest alone; its blobs follow as the
    // reader fetches them (and come from the remote until they do).
    yield* local.putManifest(fetched.value)
    return fetched
  })

  // Inspection: the local copy if intact, else the remote's, and nothing is copied or moved.
  const peekManifest: CacheStore.Shape["peekManifest"] = (key) =>
    Effect.flatMap(
      Effect.catchTag(local.peekManifest(key), "CorruptManifestError", () => Effect.succeed(Option.none<Manifest.Manifest>())),
      (cached) =>
        Option.isSome(cached) ? Effect.succeed(cached) : remotely(remote.peekManifest(key), Option.none<Manifest.Manifest>(), "remote cache read failed")
    )

  const getBlob: CacheStore.Shape["getBlob"] = Effect.fnUntraced(function*(digest) {
    const cached = yield* local.getBlob(digest)
    if (Option.isSome(cached)) {
      servedBlobs.set(digest, "local")
      return cached
    }
    const fetched = yield* remotely(remote.getBlob(digest), Option.none<Uint8Array>(), "remote cache read failed")
    if (Option.isNone(fetched)) return fetched
    servedBlobs.set(digest, "remote")
    // A blob corrupt in the bucket (CRC32C only proves the transfer) must not
    // spread into the local tier, where `putBlob` would then skip the good copy.
    if (sha256(fetched.value) === digest) yield* local.putBlob(digest, fetched.value)
    return fetched
  })

  const putBlob: CacheStore.Shape["putBlob"] = Effect.fnUntraced(function*(digest, bytes) {
    const stored = yield* Effect.result(remote.putBlob(digest, bytes))
    if (stored._tag === "Success") remoteBlobFailures.delete(digest)
    else remoteBlobFailures.add(digest)
    yield* local.putBlob(digest, bytes)
    if (stored._tag === "Failure") yield* remoteFailed(stored.failure, "remote cache write failed")
  })

  const putManifest: CacheStore.Shape["putManifest"] = Effect.fnUntraced(function*(manifest) {
    if (Manifest.referencedBlobs(manifest).some((b) => remoteBlobFailures.has(b.digest))) {
      yield* warnOnce(`cache entry ${manifest.key.slice(0, 12)}… kept locally only: one of its blobs could not be stored remotely`, "kept locally")
      return yield* local.putManifest(manifest)
    }
    const stored = yield* Effect.result(remote.putManifest(manifest))
    if (stored._tag === "Failure") {
      const localResult = yield* local.putManifest(manifest)
      yield* remoteFailed(stored.failure, "remote cache write failed")
      return localResult
    }
    if (!stored.success) {
      // Another writer won: keep its version locally too, so both tiers serve the same entry.
      const winner = yield* remotely(remote.getManifest(manifest.key), Option.none<Manifest.Manifest>(), "remote cache read failed").pipe(
        Effect.catchTag("CorruptManifestError", () => Effect.succeed(Option.none<Manifest.Manifest>()))
      )
      yield* local.putManifest(Option.getOrElse(winner, () => manifest))
      return false
    }
    yield* local.putManifest(manifest)
    return true
  })

  const both = (f: (store: CacheStore.Shape) => Effect.Effect<void, CacheStore.CacheStoreError>) =>
    Effect.andThen(f(remote), f(local))

  const quarantineManifest: CacheStore.Shape["quarantineManifest"] = Effect.fnUntraced(function*(key, reason) {
    const served = servedManifests.get(key)
    servedManifests.delete(key)
    // Served from the remote, the local tier holds a copy of the same entry: both go.
    if (served?.origin !== "local") return yield* both((s) => s.quarantineManifest(key, reason))
    yield* local.quarantineManifest(key, reason)
    // Served locally: the remote's goes too only when it is the same entry (or corrupt itself).
    const shared = yield* remotely(remote.getManifest(key), Option.none<Manifest.Manifest>(), "remote cache read failed").pipe(
      Effect.map((found) => Option.isSome(found) && found.value.createdAt === served.createdAt),
      Effect.catchTag("CorruptManifestError", () => Effect.succeed(true))
    )
    if (shared) yield* remotely(remote.quarantineManifest(key, reason), undefined, "remote cache quarantine failed")
  })

  const quarantineBlob: CacheStore.Shape["quarantineBlob"] = (digest, reason) => {
    const origin = servedBlobs.get(digest)
    servedBlobs.delete(digest)
    // A blob read locally is bad locally: the remote copy may be sound.
    return origin === "local" ? local.quarantineBlob(digest, reason) : both((s) => s.quarantineBlob(digest, reason))
  }

  const union = <A>(a: ReadonlyArray<A>, b: ReadonlyArray<A>, id: (x: A) => string): Array<A> => {
    const seen = new Map<string, A>()
    for (const x of a) seen.set(id(x), x)
    for (const x of b) if (!seen.has(id(x))) seen.set(id(x), x)
    return Array.from(seen.values())
  }

  return {
    backend: `${remote.backend}+${local.backend}`,
    getManifest,
    peekManifest,
    putManifest,
    deleteManifest: (key) => both((s) => s.deleteManifest(key)),
    quarantineManifest,
    listManifests: Effect.map(Effect.all([remote.listManifests, local.listManifests], { concurrency: 2 }), ([r, l]) => union(r, l, (m) => m.key)),
    getBlob,
    putBlob,
    deleteBlob: (digest) => both((s) => s.deleteBlob(digest)),
    quarantineBlob,
    listBlobs: Effect.map(Effect.all([remote.listBlobs, local.listBlobs], { concurrency: 2 }), ([r, l]) => union(r, l, (b) => b.digest))
  }
}

/**
 * Maintenance of two tiers. `stats`, `list`, `prune` and `clear` see them as
 * one store (`store`, by default a tiered store of its own); reading with
 * peeks, they copy nothing into the local tier. `verify` checks each tier's
 * own objects: through the tiered store, a bucket blob would be read from
 * the local tier whenever that held a good copy, and a corrupt one would go
 * unnoticed until a machine without the copy read it (and a repair would
 * leave it for the next writer of the entry, who finds the name taken, to
 * reference again). Problems are reported with the tier they were found in.
 *
 * @since 0.1.0
 */
export const makeAdmin = (
  local: CacheStore.Shape,
  remote: CacheStore.Shape,
  store: CacheStore.Shape = make(local, remote)
): CacheAdmin.Shape => {
  const whole = CacheAdmin.fromStore(store)
  const tiers = [remote, local].map((tier) => ({ name: tier.backend, admin: CacheAdmin.fromStore(tier) }))
  const verify: CacheAdmin.Shape["verify"] = (options) =>
    Effect.map(Effect.forEach(tiers, ({ admin }) => admin.verify(options)), (reports) => {
      const where = <A extends { readonly reason: string }>(tier: number) => (problem: A): A => ({ ...problem, reason: `${problem.reason} (in ${tiers[tier]!.name})` })
      return {
        manifests: reports.reduce((n, r) => n + r.manifests, 0),
        blobs: reports.reduce((n, r) => n + r.blobs, 0),
        corrupt: reports.flatMap((r, i) => r.corrupt.map(where(i))),
        badBlobs: reports.flatMap((r, i) => r.badBlobs.map(where(i))),
        orphanBlobs: Array.from(new Set(reports.flatMap((r) => r.orphanBlobs))),
        ok: reports.every((r) => r.ok),
        repaired: options?.repair === true
      }
    })
  return CacheAdmin.CacheAdmin.of({ ...whole, verify })
}

/**
 * The two tiers as one `CacheStore` layer.
 *
 * @since 0.1.0
 */
export const layer = (
  local: CacheStore.Shape,
  remote: CacheStore.Shape,
  options?: Options
): Layer.Layer<CacheStore.CacheStore> => Layer.sync(CacheStore.CacheStore, () => make(local, remote, options))
