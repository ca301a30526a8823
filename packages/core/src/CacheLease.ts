/**
 * One computation per key across processes and machines: the `CacheLease`
 * port, and the protocol `Cache` follows on a miss.
 *
 * A lease says "this key is being computed now, by this owner". Before
 * computing a missing key, a run acquires its lease; a run that finds the
 * lease held waits for the entry instead of computing it. The owner renews
 * the lease (a heartbeat) while it computes and releases it when it is done,
 * stored or failed or interrupted. A lease whose owner died (its process is
 * gone) or stopped renewing is stale and is taken over, atomically: of many
 * runs taking over one stale lease, one wins. Nobody waits forever: after
 * `maxWaitMs` a waiter computes for itself. Entries are write-once, so the
 * worst a lost race costs is a computation done twice, never a wrong result.
 *
 * A backend implements the port (`acquire`, `takeOver`, and the `Lease` it
 * hands out); the timings and the waiting are here, on Effect's `Clock`, so
 * every backend waits the same way and tests drive it with `TestClock`.
 * Leases are only touched on a miss: the hit path never sees them.
 *
 * The conformance suite in `@expops/core/testing` checks a backend's leases.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { CacheStoreError } from "./CacheStore.ts"

/**
 * How long leases live and how long runs wait on them (`model.parameters.cache.lease`).
 *
 * @since 0.1.0
 */
export interface Settings {
  /** How often an owner renews its lease. */
  readonly heartbeatMs: number
  /** A lease not renewed for this long is stale and may be taken over. */
  readonly expiryMs: number
  /** The longest a run waits on another's lease before computing itself. */
  readonly maxWaitMs: number
  /** How often a waiter looks for the entry (and at the lease). */
  readonly pollMs: number
}

/**
 * The defaults: a heartbeat every 5 s, stale after 30 s without one, wait
 * at most 30 minutes, look every second.
 *
 * @since 0.1.0
 */
export const defaultSettings: Settings = { heartbeatMs: 5_000, expiryMs: 30_000, maxWaitMs: 30 * 60_000, pollMs: 1_000 }

/**
 * Settings from the config's seconds, defaults for what is left out. A waiter
 * polls at half the heartbeat, at most once a second and at least every 10 ms.
 *
 * @since 0.1.0
 */
export const settings = (options: {
  readonly heartbeatSeconds?: number | undefined
  readonly expirySeconds?: number | undefined
  readonly maxWaitSeconds?: number | undefined
}): Settings => {
  const given = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000)
  let heartbeatMs = given(options.heartbeatSeconds)
  let expiryMs = given(options.expirySeconds)
  // One given: the other keeps the defaults' proportion (three beats may be missed before a lease is stale).
  if (heartbeatMs === undefined) heartbeatMs = expiryMs === undefined ? defaultSettings.heartbeatMs : Math.min(defaultSettings.heartbeatMs, expiryMs / 3)
  if (expiryMs === undefined) expiryMs = Math.max(defaultSettings.expiryMs, heartbeatMs * 3)
  const maxWaitMs = given(options.maxWaitSeconds) ?? defaultSettings.maxWaitMs
  return { heartbeatMs, expiryMs, maxWaitMs, pollMs: Math.min(1_000, Math.max(10, heartbeatMs / 2)) }
}

/**
 * A lease this run holds.
 *
 * @since 0.1.0
 */
export interface Lease {
  readonly key: string
  /** Renews the lease; `false` when it is no longer this run's (it was taken over). */
  readonly renew: Effect.Effect<boolean, CacheStoreError>
  /** Gives the lease up, if it is still this run's. */
  readonly release: Effect.Effect<void, CacheStoreError>
}

/**
 * What `acquire` or `takeOver` found.
 * - `Acquired`: the lease is now this run's;
 * - `Held`: another owner holds it; `stale` when that owner died or stopped
 *   renewing, so the lease may be taken over.
 *
 * @since 0.1.0
 */
export type Attempt =
  | { readonly _tag: "Acquired"; readonly lease: Lease }
  | {
    readonly _tag: "Held"
    /** Who holds it, for messages: `pid 4242 on build-1`. */
    readonly owner: string
    readonly stale: boolean
    /** What `takeOver` needs to replace exactly this lease (a token, a generation). */
    readonly version: unknown
  }

/**
 * @since 0.1.0
 */
export type Held = Extract<Attempt, { readonly _tag: "Held" }>

/**
 * @since 0.1.0
 */
export interface Shape {
  readonly backend: string
  readonly settings: Settings
  /** Creates the lease of `key` atomically, or reports the one that is held. */
  readonly acquire: (key: string) => Effect.Effect<Attempt, CacheStoreError>
  /**
   * Replaces the stale lease `held` (as `acquire` reported it) with one of
   * this run's, atomically: of concurrent takers of one lease exactly one is
   * answered `Acquired`. When the lease changed meanwhile, answers what is
   * there now (which may be free, and is then acquired).
   */
  readonly takeOver: (key: string, held: Held) => Effect.Effect<Attempt, CacheStoreError>
}

/**
 * The leases of the backend in use. Without one (the memory store, a
 * backend that cannot coordinate) `Cache` computes a miss at once.
 *
 * @since 0.1.0
 */
export class CacheLease extends Context.Service<CacheLease, Shape>()("expops/CacheLease") {}

/**
 * How a miss ended under a lease: served by the run that held the lease, or
 * computed here. `waitedMs` is the time spent waiting on another run (absent
 * when this run did not wait).
 *
 * @since 0.1.0
 */
export type Coordinated<A, B> =
  | { readonly _tag: "Served"; readonly value: A; readonly waitedMs: number | undefined }
  | { readonly _tag: "Computed"; readonly value: B; readonly waitedMs: number | undefined }

/**
 * Computes a missing key once across runs: acquires its lease and computes
 * (renewing the lease meanwhile, releasing it however the computation
 * ends), or waits for the run that holds it, looking for the entry with
 * `lookup` after 25 ms, then at doubling intervals up to every `pollMs`. A
 * stale lease is taken over; a lease released without an entry (its owner
 * failed) is acquired and computed here. After `maxWaitMs` of waiting,
 * computes without the lease. A backend that fails to keep leases (a
 * read-only bucket) is said once and the key computed here.
 *
 * Having acquired the lease, it looks once more: the entry may have been
 * stored by its previous owner between this run's miss and now.
 *
 * @since 0.1.0
 */
export const coordinate = Effect.fnUntraced(function*<A, B, E, R>(
  leases: Shape,
  key: string,
  options: {
    /** Looks the entry up, through the cache's normal lookup path. */
    readonly lookup: Effect.Effect<Option.Option<A>, CacheStoreError>
    readonly compute: Effect.Effect<B, E, R>
    /** Runs once, when this run starts waiting on another's lease: where callers report it. */
    readonly onWait?: ((owner: string) => Effect.Effect<void>) | undefined
  }
): Effect.fn.Return<Coordinated<A, B>, E | CacheStoreError, R> {
  const { maxWaitMs, pollMs } = leases.settings
  const started = yield* Clock.currentTimeMillis
  let waited = false
  // Look soon first (a short computation elsewhere is served at once), then every `pollMs`.
  let delay = Math.min(pollMs, FIRST_POLL_MS)
  const waitedMs = Effect.map(Clock.currentTimeMillis, (now) => now - started)
  // Leases are an optimisation: a backend that cannot keep them (a read-only
  // bucket, a full disk) costs a computation done twice, never a failed run.
  // Said once per backend: a read-only bucket would say it for every key.
  const unleased = (error: CacheStoreError) =>
    Effect.as(
      warned.has(leases)
        ? Effect.logDebug(`cache key ${key.slice(0, 12)}…: could not coordinate with other runs (${error.message})`)
        : Effect.andThen(
          Effect.sync(() => warned.add(leases)),
          Effect.logWarning(
            `could not coordinate with other runs computing the same keys (${error.message}); keys are computed here, perhaps twice`
          )
        ),
      undefined
    )
  const orUnleased = (attempt: Effect.Effect<Attempt, CacheStoreError>) => Effect.catch(attempt, unleased)
  let attempt: Attempt | undefined = yield* orUnleased(leases.acquire(key))
  while (true) {
    if (attempt === undefined) {
      const value = yield* options.compute
      return { _tag: "Computed", value, waitedMs: waited ? yield* waitedMs : undefined }
    }
    if (attempt._tag === "Acquired") {
      const lease = attempt.lease
      const found = yield* Effect.onError(options.lookup, () => Effect.ignore(lease.release))
      if (Option.isSome(found)) {
        yield* Effect.ignore(lease.release)
        // Stored by the lease's previous owner after this run missed: a hit, and a wait only if it waited.
        return { _tag: "Served", value: found.value, waitedMs: waited ? yield* waitedMs : undefined }
      }
      const value = yield* holding(leases.settings, lease, options.compute)
      return { _tag: "Computed", value, waitedMs: waited ? yield* waitedMs : undefined }
    }
    if (attempt.stale) {
      yield* Effect.logInfo(`cache key ${key.slice(0, 12)}…: taking over the lease of ${attempt.owner}, which is gone or stopped renewing it`)
      attempt = yield* orUnleased(leases.takeOver(key, attempt))
      continue
    }
    if ((yield* waitedMs) >= maxWaitMs) {
      yield* Effect.logWarning(
        `cache key ${key.slice(0, 12)}…: waited ${Math.round(maxWaitMs / 1000)} s on ${attempt.owner}; computing it here too`
      )
      const value = yield* options.compute
      return { _tag: "Computed", value, waitedMs: yield* waitedMs }
    }
    if (!waited && options.onWait !== undefined) yield* options.onWait(attempt.owner)
    waited = true
    yield* Effect.sleep(delay)
    delay = Math.min(pollMs, delay * 2)
    const found = yield* options.lookup
    if (Option.isSome(found)) return { _tag: "Served", value: found.value, waitedMs: yield* waitedMs }
    attempt = yield* orUnleased(leases.acquire(key))
  }
})

const warned = new WeakSet<Shape>()

/** The first look for the entry after finding the key being computed; the delay doubles up to `pollMs`. */
const FIRST_POLL_MS = 25

/**
 * Runs `compute` holding `lease`: a heartbeat renews it every `heartbeatMs`;
 * whatever ends the computation (success, failure, interruption) stops the
 * heartbeat and releases the lease, so waiters go on at once.
 */
const holding = <B, E, R>(settings: Settings, lease: Lease, compute: Effect.Effect<B, E, R>): Effect.Effect<B, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const heartbeat = yield* Effect.forkChild(renewing(settings, lease))
      const exit = yield* Effect.exit(restore(compute))
      yield* Fiber.interrupt(heartbeat)
      yield* lease.release.pipe(
        Effect.catch((error) => Effect.logWarning(`could not release the lease of ${lease.key.slice(0, 12)}…: ${error.message}`))
      )
      return yield* exit
    })
  )

/** Renews until interrupted. A failed renewal is retried at the next beat (said once); a lost lease is said once. */
const renewing = Effect.fnUntraced(function*(settings: Settings, lease: Lease): Effect.fn.Return<void> {
  let lost = false
  let failed = false
  yield* Effect.sleep(settings.heartbeatMs)
  yield* Effect.repeat(
    Effect.flatMap(Effect.exit(lease.renew), (exit) => {
      if (Exit.isFailure(exit)) {
        const said = failed
        failed = true
        const message = `could not renew the lease of ${lease.key.slice(0, 12)}…; retrying at each heartbeat`
        return said ? Effect.logDebug(message) : Effect.logWarning(message, exit.cause)
      }
      if (exit.value || lost) return Effect.void
      lost = true
      return Effect.logWarning(`the lease of ${lease.key.slice(0, 12)}… was taken over by another run; computing on`)
    }),
    Schedule.spaced(settings.heartbeatMs)
  )
})

/**
 * A lease as the memory backend keeps it.
 *
 * @since 0.1.0
 */
export interface MemoryLease {
  readonly owner: string
  readonly token: string
  readonly renewedAt: number
}

/**
 * Leases in a table in memory, for tests: several `makeMemory` over one
 * table behave like runs sharing a backend, each its own owner. A lease is
 * stale when not renewed for `expiryMs` (on the `Clock`), or when `alive`
 * says its owner is gone.
 *
 * @since 0.1.0
 */
export const makeMemory = (options: {
  readonly table: Map<string, MemoryLease>
  readonly owner: string
  readonly settings?: Settings | undefined
  readonly alive?: ((owner: string) => boolean) | undefined
}): Shape => {
  const { owner, table } = options
  const settings = options.settings ?? defaultSettings
  let tokens = 0
  const leaseOf = (key: string, token: string): Lease => ({
    key,
    renew: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        if (table.get(key)?.token !== token) return false
        table.set(key, { owner, token, renewedAt: now })
        return true
      })),
    release: Effect.sync(() => {
      if (table.get(key)?.token === token) table.delete(key)
    })
  })
  const acquire: Shape["acquire"] = (key) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync((): Attempt => {
        const held = table.get(key)
        if (held === undefined) {
          const token = `${owner}#${++tokens}`
          table.set(key, { owner, token, renewedAt: now })
          return { _tag: "Acquired", lease: leaseOf(key, token) }
        }
        const stale = now - held.renewedAt > settings.expiryMs || options.alive?.(held.owner) === false
        // A renewal makes another version: a taker that saw the lease stale must not replace it once renewed.
        return { _tag: "Held", owner: held.owner, stale, version: `${held.token}@${held.renewedAt}` }
      }))
  const takeOver: Shape["takeOver"] = (key, held) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.suspend(() => {
        const current = table.get(key)
        if (current === undefined || `${current.token}@${current.renewedAt}` !== held.version) return acquire(key)
        const token = `${owner}#${++tokens}`
        table.set(key, { owner, token, renewedAt: now })
        return Effect.succeed<Attempt>({ _tag: "Acquired", lease: leaseOf(key, token) })
      }))
  return { backend: "memory", settings, acquire, takeOver }
}
