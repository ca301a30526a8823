/**
 * The `Cache` service: looks entries up, verifies them, decodes them, stores
 * new ones, and makes sure that within one run concurrent calls with the same
 * key compute once.
 *
 * The rules of integrity live here, above the `CacheStore` port, so every
 * backend gets the same ones: a manifest whose checksum fails (every backend
 * reads manifests through `Manifest.decode`, which reports it as a
 * `CorruptManifestError`), a blob whose content does not match its digest, a
 * missing blob, an output the current schema cannot decode — each is logged
 * as a warning, moved aside, and treated as a miss. Such an entry is never
 * served, and never crashes a run.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import * as CacheLease from "./CacheLease.ts"
import { CacheStore, type CacheStoreError, makeMemory } from "./CacheStore.ts"
import * as CodeParts from "./CodeParts.ts"
import { EncodeError } from "./EncodeError.ts"
import * as internal from "./internal/encoding.ts"
import * as Manifest from "./Manifest.ts"
import type { Metric } from "./Metrics.ts"
import type { Recipe } from "./Recipe.ts"
import * as StoredValue from "./StoredValue.ts"
import * as Trace from "./Trace.ts"
import * as Variants from "./internal/trace/variants.ts"

/**
 * How the cache is used during a run.
 * - `read-write`: look up, and store what is computed (the default);
 * - `off`: compute everything, store nothing (`expops run --no-cache`).
 *
 * (There is no "recompute and overwrite" mode: entries are write-once, so a
 * result is never replaced under a key readers may already trust.)
 *
 * @since 0.1.0
 */
export type Mode = "read-write" | "off"

/**
 * @since 0.1.0
 */
export type CacheError = CacheStoreError | EncodeError

/**
 * A hit: the decoded value and the manifest it came from.
 *
 * @since 0.1.0
 */
export interface Hit<A> {
  readonly value: A
  readonly manifest: Manifest.Manifest
}

/**
 * The result of `memoize`.
 *
 * @since 0.1.0
 */
export interface Outcome<A> {
  readonly value: A
  readonly cached: boolean
  /** Time spent computing (0 for a hit). */
  readonly durationMs: number
  /** For a hit: how long the stored entry took to compute, the time the hit saved. */
  readonly savedMs: number
  /** The metrics the entry was computed with: stored with a miss, served with a hit. */
  readonly metrics: ReadonlyArray<Metric> | undefined
  /**
   * The entry's size (manifest and blobs) in bytes: read from the store for
   * a hit, written to it for a miss; 0 when nothing was (a hit shared from a
   * concurrent call, the cache off).
   */
  readonly bytes: number
  /** Time spent waiting on another run that held the key's lease (absent when this call did not wait). */
  readonly waitedMs?: number | undefined
  /** The key of the entry served or stored: the call's key, or a variant of it (see `Variants`). */
  readonly key: string
  /** What the computation used (see `Trace`); absent for computations run without a seed. */
  readonly trace: Trace.Trace | undefined
}

/**
 * @since 0.1.0
 */
export interface Shape {
  readonly mode: Mode
  readonly backend: string
  /**
   * Looks an entry up: the one under `key` or a variant of it whose traced
   * dependencies hold (for a call with `seed`; without, seeds are not
   * checked). Corrupt or undecodable entries are quarantined and answer `none`.
   */
  readonly lookup: <A, I>(
    key: string,
    schema: Schema.Codec<A, I, never, never>,
    seed?: number | undefined
  ) => Effect.Effect<Option.Option<Hit<A>>, CacheStoreError>
  /**
   * Serves `key` from the cache or runs `compute` and stores its output.
   * Concurrent calls with the same key share one computation: the call that
   * ran it reports a miss, the others a hit. A failed computation stores
   * nothing.
   */
  readonly memoize: <A, I, E, R>(options: {
    readonly key: string
    /** What the key was made of, stored with the entry; a function is called only when the entry is stored (a miss). */
    readonly recipe: Recipe | (() => Recipe)
    readonly schema: Schema.Codec<A, I, never, never>
    readonly compute: Effect.Effect<A, E, R>
    /** Runs after a miss, before computing: where callers report the miss. */
    readonly onMiss?: Effect.Effect<void> | undefined
    /** Runs when the key is found being computed by another run, before waiting for it. */
    readonly onWait?: Effect.Effect<void> | undefined
    /** After computing: the metrics logged meanwhile, stored with the entry. */
    readonly metrics?: (() => ReadonlyArray<Metric>) | undefined
    /**
     * The seed this call runs with. Given, `compute` runs with `Random`
     * seeded with it and traced (see `Trace`), and an entry is served only
     * while its trace holds. The seed is not part of `key`: only an entry
     * that drew random numbers depends on it. A function is called only
     * when the seed is needed: to compute, or to check the trace of an entry
     * that drew random numbers (a hit of one that did not needs no seed).
     */
    readonly seed?: number | (() => number) | undefined
  }) => Effect.Effect<Outcome<A>, E | CacheError, R>
}

/**
 * @since 0.1.0
 */
export class Cache extends Context.Service<Cache, Shape>()("expops/Cache") {}

/** A value, or the function that makes it when it is needed. */
type Lazy<A> = A | (() => A)

const force = <A>(value: Lazy<A>): A => (typeof value === "function" ? (value as () => A)() : value)

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

const noBlobs: ReadonlyMap<string, Uint8Array> = new Map()

/** A lease's slot no longer where the call's entry goes (see `stillTheSlot`): control flow inside `memoize`, never seen outside. */
const slotMoved: unique symbol = Symbol("expops/Cache/slotMoved")

/**
 * What `memoize` answers for an entry found in the store: for callers that
 * serve entries themselves (a cluster driver), the same outcome.
 *
 * @since 0.1.0
 */
export const hitOutcome = <A>({ manifest, value }: Hit<A>): Outcome<A> => ({
  value,
  cached: true,
  durationMs: 0,
  savedMs: manifest.durationMs,
  metrics: manifest.metrics,
  bytes: manifest.size,
  key: manifest.key,
  trace: manifest.trace
})

/**
 * Builds the service over the `CacheStore` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options?: { readonly mode?: Mode | undefined }) {
  const store = yield* CacheStore
  const mode: Mode = options?.mode ?? "read-write"
  // Other processes and machines computing the same keys: coordinated on a miss, when the backend can.
  const leases = mode === "read-write" ? Option.getOrUndefined(yield* Effect.serviceOption(CacheLease.CacheLease)) : undefined
  const inFlight = new Map<string, Deferred.Deferred<Outcome<any>, any>>()

  const discard = (key: string, what: string, reason: string, quarantine: Effect.Effect<void, CacheStoreError>) =>
    Effect.logWarning(`cache entry ${key.slice(0, 12)}… ${what}: ${reason}; it will be recomputed`).pipe(
      Effect.andThen(quarantine),
      Effect.catch((error) => Effect.logWarning(`could not move the corrupt entry aside: ${error.message}`)),
      Effect.as(Option.none<never>())
    )

  /** A blob with the SHA-256 of what was read: hashed by the store as it reads, when it can. */
  const getBlobHashed = store.getBlobHashed ?? ((digest: string) =>
    Effect.map(store.getBlob(digest), Option.map((bytes) => ({ bytes, sha256: sha256(bytes) }))))

  /**
   * Verifies the blobs of a manifest that passed its own check, then decodes
   * its output. (The blob of the recipe's code parts is not among them: a hit
   * leaves it alone, `explain` reads it.)
   */
  const serve = <A, I>(key: string, manifest: Manifest.Manifest, schema: Schema.Codec<A, I, never, never>) => {
    const refs = manifest.blobs
    if (refs.length === 0) return decodeOutput(key, manifest, schema, noBlobs)
    return Effect.flatMap(
      Effect.forEach(refs, (ref) => getBlobHashed(ref.digest), { concurrency: 8 }),
      (fetched) => {
        const blobs = new Map<string, Uint8Array>()
        for (let i = 0; i < refs.length; i++) {
          const ref = refs[i]!
          const blob = fetched[i]!
          if (Option.isNone(blob)) {
            return discard(key, "is missing a blob", ref.digest, store.quarantineManifest(key, `missing blob ${ref.digest}`))
          }
          if (blob.value.bytes.byteLength !== ref.size || blob.value.sha256 !== ref.digest) {
            return discard(
              key,
              "has a corrupt blob",
              ref.digest,
              Effect.andThen(store.quarantineBlob(ref.digest, "digest mismatch"), store.quarantineManifest(key, `corrupt blob ${ref.digest}`))
            )
          }
          blobs.set(ref.digest, blob.value.bytes)
        }
        return decodeOutput(key, manifest, schema, blobs)
      }
    )
  }

  const decodeOutput = <A, I>(
    key: string,
    manifest: Manifest.Manifest,
    schema: Schema.Codec<A, I, never, never>,
    blobs: ReadonlyMap<string, Uint8Array>
  ): Effect.Effect<Option.Option<Hit<A>>, CacheStoreError> => {
    let encoded: unknown
    try {
      encoded = StoredValue.deserialize(manifest.output, (digest) => blobs.get(digest)!)
    } catch (error) {
      return discard(key, "has a malformed output", String(error), store.quarantineManifest(key, String(error)))
    }
    const decoded = internal.decode(schema, encoded)
    if (Exit.isFailure(decoded)) {
      return discard(key, "does not decode with the output schema", "schema mismatch", store.quarantineManifest(key, "undecodable"))
    }
    return Exit.succeed(Option.some({ value: decoded.value, manifest }))
  }

  /**
   * The entry for a call: the one under `key` if its trace holds, else the
   * variant its trace leads to, and so on (see `Variants`). A miss answers
   * the key where the call's entry goes (`""`: nowhere, the chain is too long).
   */
  const find = <A, I>(
    key: string,
    schema: Schema.Codec<A, I, never, never>,
    seed: Lazy<number | undefined>,
    depth: number
  ): Effect.Effect<Hit<A> | string, CacheStoreError> =>
    Effect.matchEffect(store.getManifest(key), {
      onFailure: (error) =>
        error._tag === "CorruptManifestError"
          ? Effect.as(discard(key, "manifest is corrupt", error.reason, store.quarantineManifest(key, error.reason)), key)
          : Exit.fail(error),
      onSuccess: (found) => {
        if (Option.isNone(found)) return Exit.succeed(key)
        const manifest = found.value
        if (Trace.isStatic(manifest.trace)) return hitOrKey(serve(key, manifest, schema), key)
        return Effect.flatMap(Trace.check(manifest.trace!, manifest.trace!.random ? force(seed) : undefined), (check) =>
          check.holds
            ? hitOrKey(serve(key, manifest, schema), key)
            : depth >= Variants.MAX_DEPTH
            ? Exit.succeed("")
            : find(Variants.next(key, check.variant), schema, seed, depth + 1))
      }
    })

  /** The hit, or the key when the entry was not served; an entry without blobs is served as an Exit, mapped here without a step of the runtime. */
  const hitOrKey = <A>(served: Effect.Effect<Option.Option<Hit<A>>, CacheStoreError>, key: string): Effect.Effect<Hit<A> | string, CacheStoreError> => {
    if (Exit.isExit(served)) {
      const exit = served as Exit.Exit<Option.Option<Hit<A>>, CacheStoreError>
      return Exit.isSuccess(exit) ? Exit.succeed(Option.isSome(exit.value) ? exit.value.value : key) : exit as Exit.Exit<never, CacheStoreError>
    }
    return Effect.map(served, (hit) => (Option.isSome(hit) ? hit.value : key))
  }

  const lookup: Shape["lookup"] = (key, schema, seed) =>
    Effect.map(find(key, schema, seed, 0), (found) => (typeof found === "string" ? Option.none() : Option.some(found)))

  /**
   * Serializes an output and stores its blobs. A store that hashes blobs as it
   * writes them (`hashAndPutBlob`) gets the bytes first, and the digests it
   * answers name the blobs: a large output is hashed while it is written, not
   * before. The first walk also checks that the value can be stored at all,
   * so a value that cannot writes nothing.
   */
  const serializeWithBlobs = (encoded: unknown, owner: string) => {
    const hashAndPut = store.hashAndPutBlob
    if (hashAndPut === undefined) {
      return Effect.tap(
        internal.serialize(encoded, owner, "output"),
        (serialized) => Effect.forEach(serialized.blobs, (blob) => store.putBlob(blob.digest, blob.bytes), { concurrency: 4, discard: true })
      )
    }
    return Effect.gen(function*() {
      const parts: Array<Uint8Array> = []
      yield* internal.serialize(encoded, owner, "output", (bytes) => {
        parts.push(bytes)
        return ""
      })
      const digests = yield* Effect.forEach(parts, hashAndPut, { concurrency: 4 })
      // The same walk in the same order: the nth blob is the nth digest.
      let next = 0
      return yield* internal.serialize(encoded, owner, "output", () => digests[next++]!)
    })
  }

  /** Stores an encoded output: blobs first, then the manifest (write-once). */
  const storeEncoded = Effect.fnUntraced(function*(
    recipe: Recipe,
    key: string,
    owner: string,
    encoded: unknown,
    durationMs: number,
    metrics: ReadonlyArray<Metric> | undefined,
    trace: Trace.Trace | undefined
  ) {
    const { codeParts, ...rest } = recipe
    // The code parts go to a blob of their own, shared by the definition's
    // entries (see `CodeParts`), written with the output's blobs.
    const parts = codeParts === undefined ? undefined : CodeParts.encode(codeParts)
    const [serialized] = yield* Effect.all([
      serializeWithBlobs(encoded, owner),
      parts === undefined ? Effect.void : store.putBlob(parts.digest, parts.bytes)
    ], { concurrency: 2 })
    const createdAt = yield* Clock.currentTimeMillis
    const blobs = serialized.blobs.map((b) => ({ digest: b.digest, size: b.bytes.byteLength }))
    // The recipe keeps the configuration as a picture for `explain`: JSON-safe, whatever it holds.
    const kept = { ...rest, configValue: internal.jsonPicture(recipe.configValue) }
    const manifest = Manifest.make({
      key,
      recipe: kept,
      output: serialized.json,
      blobs,
      createdAt,
      durationMs,
      ...(metrics !== undefined && metrics.length > 0 ? { metrics } : {}),
      ...(trace !== undefined ? { trace } : {}),
      ...(parts !== undefined ? { codeParts: { digest: parts.digest, size: parts.size } } : {})
    })
    yield* store.putManifest(manifest)
    return manifest.size
  })

  /**
   * Runs `compute`, then returns its output as a hit would: encoded with the
   * schema and decoded back, so that a cold and a warm run give the same
   * value (fields the schema does not declare dropped, transformations
   * applied). With the cache on, the encoded output is stored.
   */
  const computeAndStore = Effect.fnUntraced(function*<A, I, E, R>(
    recipe: Recipe,
    key: string,
    schema: Schema.Codec<A, I, never, never>,
    compute: Effect.Effect<A, E, R>,
    metricsOf: (() => ReadonlyArray<Metric>) | undefined,
    seed: number | undefined
  ) {
    const owner = `${recipe.kind} ${recipe.name}`
    const start = yield* internal.monotonicMs
    const { trace, value } = seed === undefined ? { value: yield* compute, trace: undefined } : yield* Trace.record(compute, seed)
    const durationMs = (yield* internal.monotonicMs) - start
    const metrics = metricsOf?.()
    const encoded = yield* internal.encode(schema, value, owner, "output")
    const decoded = internal.decode(schema, encoded)
    if (Exit.isFailure(decoded)) {
      return yield* new EncodeError({ owner, value: "output", path: "", reason: `does not decode back with the output schema: ${decoded.cause}` })
    }
    // No key to store under (`""`): a chain of variants too long to follow, computed and not stored.
    const bytes = mode === "read-write" && key !== "" ? yield* storeEncoded(recipe, key, owner, encoded, durationMs, metrics, trace) : 0
    return { value: decoded.value, cached: false, durationMs, savedMs: 0, metrics, bytes, key, trace }
  })

  // A hit is a lookup and one step more: no generator on the path every cached step takes.
  const memoize: Shape["memoize"] = (options) =>
    mode === "read-write"
      ? Effect.flatMap(find(options.key, options.schema, options.seed, 0), (found) => {
        if (typeof found === "string") return computeOnce(options, found)
        return Exit.succeed(hitOutcome(found))
      })
      : computeOnce(options, options.key)

  /** A miss: share the computation of a concurrent call for the same entry, or run it and store it under `slot`. */
  const computeOnce = Effect.fnUntraced(function*<A, I, E, R>(options: Parameters<Shape["memoize"]>[0] & {
    readonly schema: Schema.Codec<A, I, never, never>
    readonly compute: Effect.Effect<A, E, R>
  }, slot: string): Effect.fn.Return<Outcome<A>, E | CacheError, R> {
    const { compute, metrics, onMiss, onWait, recipe, schema, seed } = options
    const pending = slot === "" ? undefined : inFlight.get(slot)
    if (pending !== undefined) {
      const shared = yield* Effect.exit(Deferred.await(pending))
      // The computation was interrupted (its caller timed out or lost a race):
      // it proves nothing about this call, which computes for itself.
      if (Exit.isFailure(shared) && Cause.hasInterruptsOnly(shared.cause)) return yield* memoize(options)
      const outcome: Outcome<A> = yield* shared
      // Computed for another seed, or from files changed since: not this call's result.
      if (!Trace.isStatic(outcome.trace) && !(yield* Trace.check(outcome.trace!, force(seed))).holds) return yield* memoize(options)
      // Served by the concurrent call that computed it: for this call, a hit.
      return { ...outcome, cached: true, durationMs: 0, savedMs: outcome.durationMs, bytes: 0 }
    }
    const deferred = Deferred.makeUnsafe<Outcome<any>, any>()
    if (slot !== "") inFlight.set(slot, deferred)
    const stored = Effect.suspend(() => computeAndStore(force(recipe), slot, schema, compute, metrics, force(seed)))
    const computation = onMiss === undefined ? stored : Effect.andThen(onMiss, stored)
    // Whatever ends the computation, interruption included, frees the key
    // and releases the calls waiting on it.
    return yield* (
      slot === ""
        // Not stored (no free variant): nothing to lease, reported under the call's own key.
        ? Effect.map(computation, (outcome) => ({ ...outcome, key: options.key }))
        : leases === undefined
        ? computation
        : Effect.catchIf(
          underLease(
            leases,
            slot,
            Effect.map(find(options.key, schema, seed, 0), (found) => (typeof found === "string" ? Option.none() : Option.some(found))),
            Effect.andThen(stillTheSlot(options.key, schema, seed, slot), computation),
            onWait
          ),
          (error): error is typeof slotMoved => error === slotMoved,
          (): Effect.Effect<Outcome<A>, E | CacheError, R> => memoize(options)
        )
    ).pipe(
      Effect.onExit((exit) =>
        Effect.suspend(() => {
          if (inFlight.get(slot) === deferred) inFlight.delete(slot)
          return Deferred.done(deferred, exit)
        })
      )
    )
  })

  /**
   * Under a lease, whether `slot` is still where this call's entry goes. The
   * run that held the lease may have stored an entry there that holds for
   * its seed or files and not for this call's: the entry then goes to a
   * variant, under a lease of its own (`slotMoved`, and `memoize` again).
   */
  const stillTheSlot = <A, I>(key: string, schema: Schema.Codec<A, I, never, never>, seed: Lazy<number | undefined>, slot: string) =>
    Effect.flatMap(find(key, schema, seed, 0), (found) => (found === slot ? Effect.void : Effect.fail<typeof slotMoved>(slotMoved)))

  /**
   * A miss other runs may be computing too: computed under the lease of the
   * entry's key (`slot`), or served once the run holding it stored the entry
   * (a hit that waited). The entry is looked up again through `lookup`, the
   * one path every hit takes, from the call's own key.
   */
  const underLease = <A, E, R>(
    leases: CacheLease.Shape,
    slot: string,
    lookupAgain: Effect.Effect<Option.Option<Hit<A>>, CacheStoreError>,
    computation: Effect.Effect<Outcome<A>, E | CacheError, R>,
    onWait: Effect.Effect<void> | undefined
  ): Effect.Effect<Outcome<A>, E | CacheError, R> =>
    Effect.map(
      CacheLease.coordinate(leases, slot, { lookup: lookupAgain, compute: computation, onWait: onWait && (() => onWait) }),
      (done): Outcome<A> => {
        const outcome = done._tag === "Computed" ? done.value : hitOutcome(done.value)
        return done.waitedMs === undefined ? outcome : { ...outcome, waitedMs: done.waitedMs }
      }
    )

  return Cache.of({ mode, backend: store.backend, lookup, memoize })
})

/**
 * The cache over the `CacheStore` in context.
 *
 * @since 0.1.0
 */
export const layer = (options?: { readonly mode?: Mode | undefined }): Layer.Layer<Cache, never, CacheStore> =>
  Layer.effect(Cache, make(options))

/**
 * A cache over a fresh in-memory store: for tests and examples.
 *
 * @since 0.1.0
 */
export const layerMemory = (options?: { readonly mode?: Mode | undefined }): Layer.Layer<Cache | CacheStore> =>
  Layer.provideMerge(layer(options), Layer.effect(CacheStore, Effect.sync(makeMemory)))
