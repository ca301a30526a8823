/**
 * Leases in the bucket, so that every machine sharing it computes each key
 * once (see `CacheLease` in core for the protocol):
 *
 * ```
 * gs://BUCKET/PREFIX/PROJECT/cache/leases/<key>
 * ```
 *
 * A lease is an object whose custom metadata names its owner (host and pid,
 * for messages), a token unique to the owner, and when it expires (the
 * owner's clock plus `expiryMs`). Every change is conditional on the
 * object's generation, which Cloud Storage checks atomically:
 *
 * - acquire: written with `ifGenerationMatch: 0`, so of many machines one
 *   creates it and the others get 412;
 * - renew (the heartbeat): rewritten with `ifGenerationMatch` of the
 *   generation the owner wrote last; a 412 means it was taken over;
 * - take over an expired lease: rewritten with `ifGenerationMatch` of the
 *   generation the taker saw expired: one taker wins, and the old owner's
 *   next renewal fails, so two machines never both believe they own it;
 * - release: deleted with `ifGenerationMatch` of the owner's generation, so
 *   a lease taken over is never deleted by its old owner.
 *
 * The CLI renews from a worker thread with a client of its own
 * (`renewOffThread`): a body that blocks the main thread for minutes (a
 * synchronous training loop) keeps its lease.
 *
 * Expiry compares the owner's clock with the reader's: machines whose clocks
 * differ by more than the expiry may take a live lease over (the cost is a
 * computation done twice; entries stay write-once).
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import { CacheLease, CacheStore } from "@expops/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GcsClient, retrySchedule, type Shape as Client } from "./GcsClient.ts"
import { GcsRequestError } from "./GcsError.ts"
import { classify } from "./internal/failure.ts"
import * as HeartbeatThread from "./internal/heartbeatThread.ts"

const VALID_KEY = /^[0-9a-f]{64}$/

/**
 * Who owns the leases of one `make`.
 *
 * @since 0.1.0
 */
export interface Identity {
  /** For messages: `pid 4242 on build-1`. */
  readonly owner: string
  readonly token: string
}

interface Seen {
  readonly generation: number
  readonly owner: string
  readonly token: string
  readonly expiresAt: number
}

/**
 * Leases under the client's `cache/leases/`.
 *
 * @since 0.1.0
 */
export const make = (
  client: Client,
  settings: CacheLease.Settings = CacheLease.defaultSettings,
  identity?: Partial<Identity>,
  options?: {
    /**
     * Renew from a worker thread, so that a body blocking the main thread
     * keeps its lease (what the CLI does). The thread's clock is the real
     * one: tests on the `TestClock` leave this off.
     */
    readonly renewOffThread?: boolean | undefined
  }
): CacheLease.Shape => {
  const me: Identity = { owner: identity?.owner ?? `pid ${process.pid} on ${os.hostname()}`, token: identity?.token ?? randomUUID() }
  let thread: HeartbeatThread.HeartbeatThread | undefined
  // A thread that failed once is not started again: leases are then renewed on this thread.
  let broken = false
  const offThread = () => {
    if (options?.renewOffThread !== true || broken) return undefined
    thread ??= HeartbeatThread.make({
      bucket: client.bucketName,
      apiEndpoint: client.options.apiEndpoint,
      projectId: client.options.projectId,
      // As the client does: a custom endpoint gets no credentials.
      keyFilename: client.options.apiEndpoint === undefined ? client.options.credentials : undefined,
      heartbeatMs: settings.heartbeatMs,
      expiryMs: settings.expiryMs
    }, (error) => {
      // Leases held by the thread then expire, and may be taken over: a computation done twice, never a wrong result.
      process.emitWarning(`expops: the thread renewing GCS leases stopped (${String(error)}); renewing them on the main thread`)
      thread = undefined
      broken = true
    })
    return thread
  }
  const folder = client.path("cache", "leases") + "/"
  const schedule = retrySchedule(client.retry)

  const toStoreError = (error: GcsRequestError) =>
    new CacheStore.CacheStoreError({ backend: "gcs", operation: error.operation, location: `gs://${error.bucket}/${error.object}`, reason: error.reason, cause: error })

  /** One request, retried on transient failures like every other request of the backend. */
  const request = <A>(operation: string, name: string, f: () => Promise<A>) =>
    Effect.retry(
      Effect.tryPromise({
        try: f,
        catch: (cause) => {
          const failure = classify(cause)
          return new GcsRequestError({
            bucket: client.bucketName,
            object: name,
            operation,
            ...(failure.status === undefined ? {} : { status: failure.status }),
            reason: failure.message,
            retryable: failure.retryable,
            credentials: client.credentials,
            credentialsFailed: failure.credentials,
            cause
          })
        }
      }),
      schedule
    )

  const nameOf = (key: string) =>
    VALID_KEY.test(key)
      ? Effect.succeed(folder + key)
      : Effect.fail(new CacheStore.CacheStoreError({ backend: "gcs", operation: "use lease", location: folder + key, reason: `not a cache key: ${JSON.stringify(key)}` }))

  /** The lease as it is now, or undefined when there is none. */
  const read = (name: string) =>
    request("read lease", name, async (): Promise<Seen | undefined> => {
      try {
        const [metadata] = await client.bucket.file(name).getMetadata()
        const custom = (metadata.metadata ?? {}) as Record<string, string>
        return {
          generation: Number(metadata.generation),
          owner: String(custom.owner ?? "an unknown owner"),
          token: String(custom.token ?? ""),
          // A lease without a readable expiry protects nothing.
          expiresAt: Number(custom.expiresAt ?? 0) || 0
        }
      } catch (error) {
        if (classify(error).status === 404) return undefined
        throw error
      }
    })

  /**
   * Writes this owner's lease if the object's generation is `ifGenerationMatch`:
   * its new generation, or on 412 the lease as it is now (read once, which
   * also tells whether a retried attempt had in fact written ours).
   */
  const write = Effect.fnUntraced(function*(
    operation: string,
    name: string,
    ifGenerationMatch: number,
    now: number
  ): Effect.fn.Return<{ readonly generation: number } | { readonly refused: Seen | undefined }, GcsRequestError> {
    const expiresAt = now + settings.expiryMs
    const custom = { owner: me.owner, token: me.token, expiresAt: String(expiresAt) }
    const written = yield* request(operation, name, async () => {
      const file = client.bucket.file(name)
      try {
        await file.save(`${JSON.stringify({ ...custom, expiresAt })}\n`, {
          resumable: false,
          contentType: "application/json",
          metadata: { metadata: custom },
          preconditionOpts: { ifGenerationMatch }
        })
      } catch (error) {
        if (classify(error).status === 412) return undefined
        throw error
      }
      return Number(file.metadata.generation)
    })
    if (written !== undefined) return { generation: written }
    const there = yield* read(name)
    // A 412 after a retried attempt may be our own write: the lease carries our token then.
    return there !== undefined && there.token === me.token && there.generation !== ifGenerationMatch
      ? { generation: there.generation }
      : { refused: there }
  })

  const leaseOf = (key: string, name: string, generation: number): CacheLease.Lease => {
    const renewer = offThread()
    if (renewer !== undefined) {
      const holding = renewer.hold(name, generation, { owner: me.owner, token: me.token })
      return {
        key,
        // The thread renews; the heartbeat here only asks whether it still holds the lease.
        renew: Effect.sync(() => !holding.lost()),
        release: Effect.flatMap(Effect.promise(holding.stop), (last) => remove(name, last))
      }
    }
    let current = generation
    return {
      key,
      renew: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.map(write("renew lease", name, current, now), (next) => {
          if (!("generation" in next)) return false
          current = next.generation
          return true
        })).pipe(Effect.mapError(toStoreError)),
      release: Effect.suspend(() => remove(name, current))
    }
  }

  /** Deletes the lease if it is still the generation this owner wrote last. */
  const remove = (name: string, generation: number) =>
    request("release lease", name, async () => {
      try {
        await client.bucket.file(name).delete({ ifGenerationMatch: generation })
      } catch (error) {
        const status = classify(error).status
        // Gone, or no longer ours: nothing to give up.
        if (status !== 404 && status !== 412) throw error
      }
    }).pipe(Effect.mapError(toStoreError))

  const heldBy = (seen: Seen, now: number): CacheLease.Held => ({
    _tag: "Held",
    owner: seen.owner,
    stale: now > seen.expiresAt,
    version: seen.generation
  })

  // A request that failed becomes the store's error; a key that names no lease already is one.
  const asStoreError = <A>(effect: Effect.Effect<A, CacheStore.CacheStoreError | GcsRequestError>) =>
    Effect.mapError(effect, (error) => (error instanceof GcsRequestError ? toStoreError(error) : error))

  const acquire: CacheLease.Shape["acquire"] = Effect.fnUntraced(function*(key: string) {
    const name = yield* nameOf(key)
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const written = yield* write("acquire lease", name, 0, now)
      if ("generation" in written) return { _tag: "Acquired", lease: leaseOf(key, name, written.generation) } satisfies CacheLease.Attempt
      // Released between the write and the read: try again.
      if (written.refused !== undefined) return heldBy(written.refused, now)
    }
  }, asStoreError)

  const takeOver: CacheLease.Shape["takeOver"] = Effect.fnUntraced(function*(key: string, held: CacheLease.Held) {
    const name = yield* nameOf(key)
    const now = yield* Clock.currentTimeMillis
    const written = yield* write("take over lease", name, Number(held.version), now)
    if ("generation" in written) return { _tag: "Acquired", lease: leaseOf(key, name, written.generation) } satisfies CacheLease.Attempt
    return written.refused === undefined ? yield* acquire(key) : heldBy(written.refused, now)
  }, asStoreError)

  return { backend: "gcs", settings, acquire, takeOver }
}

/**
 * Leases in the bucket of the `GcsClient` in context.
 *
 * @since 0.1.0
 */
export const layer = (
  settings?: CacheLease.Settings,
  options?: { readonly renewOffThread?: boolean | undefined }
): Layer.Layer<CacheLease.CacheLease, never, GcsClient> =>
  Layer.effect(
    CacheLease.CacheLease,
    Effect.gen(function*() {
      return make(yield* GcsClient, settings, undefined, options)
    })
  )
