/**
 * Leases on the local file system, so that the OS processes running on one
 * machine compute each key once (see `CacheLease` in core for the protocol).
 *
 * The lease of a key is the file `.expops/cache/leases/<key>`: a line of
 * JSON with the owner's host name, pid, a token unique to the owner and the
 * time of its last heartbeat. It is written to a temp file and published
 * with `link(2)`, which fails when the name is taken: of any number of
 * processes acquiring one key, exactly one creates the file, and no reader
 * ever sees half of it.
 *
 * A lease is stale when its owner is gone, or stopped renewing:
 *
 * - an owner on this host is judged by its process: gone (`kill(pid, 0)`
 *   finds no such process: a SIGKILLed run is taken over at once), exited
 *   but not yet reaped by its parent (a zombie, `Z` in `/proc/<pid>/stat`), or
 *   another process now (on Linux the lease records the owner's start time
 *   from `/proc/<pid>/stat`, so a reused pid is told apart; a lease with this
 *   process's own pid and a token it never made was left by a dead run
 *   whose pid was reused, pid 1 in containers). A live owner keeps its lease
 *   even when its event loop is blocked by a long synchronous body and
 *   cannot renew: waiters wait for it (up to `maxWaitMs`) instead of
 *   computing the key a second time. Where the start time cannot be read
 *   (not Linux), a lease not renewed for `expiryMs` is stale too;
 * - an owner on another host sharing the folder is judged by its heartbeat
 *   alone: stale when not renewed for `expiryMs`.
 *
 * Taking over a stale lease first creates a marker named after exactly the
 * lease seen (`<key>.takeover-<digest of its content>`) with `O_EXCL`: one
 * taker wins it. The winner checks that the lease is still the one it saw,
 * replaces it by renaming its own over it, and removes the marker; a taker
 * that comes later reads a lease that is no longer the one it saw, and
 * loses. A marker left by a taker that died is removed once it is older
 * than the expiry.
 *
 * @since 0.1.0
 */
import { createHash, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CacheLease, CacheStore } from "@expops/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as files from "./internal/files.ts"
import { processExists } from "./internal/processes.ts"
import { LocalBackendError } from "./LocalBackendError.ts"

/**
 * Who owns the leases made by one `make`: this process, unless a test says otherwise.
 *
 * @since 0.1.0
 */
export interface Identity {
  readonly host: string
  readonly pid: number
  /** Unique to the owner: two owners in one process are still two owners. */
  readonly token: string
}

interface Stored {
  readonly host: string
  readonly pid: number
  /** The owner process's start time (`/proc/<pid>/stat`), where the system tells it: tells a reused pid apart. */
  readonly started?: string | undefined
  readonly token: string
  readonly renewedAt: number
}

/** What `/proc/<pid>/stat` says of a process (Linux); undefined where it cannot be read. */
const procStat = (pid: number): { readonly state: string; readonly started: string | undefined } | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command (which may hold spaces) in parentheses: state is the 3rd, starttime the 22nd.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state: fields[0]!, started: fields[19] }
  } catch {
    return undefined
  }
}

/** When process `pid` started, in clock ticks since boot (Linux); undefined where it cannot be read. */
const startTimeOf = (pid: number): string | undefined => procStat(pid)?.started

const VALID_KEY = /^[0-9a-f]{64}$/

/** The owners made in this process: a lease with this process's pid and another token was left by a dead process. */
const ownTokens = new Set<string>()

const parse = (text: string): Stored | undefined => {
  try {
    const value = JSON.parse(text)
    return typeof value?.host === "string" && typeof value.pid === "number" && typeof value.token === "string" && typeof value.renewedAt === "number"
      ? value
      : undefined
  } catch {
    return undefined
  }
}

const readIfExists = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch (error) {
    if (files.errnoOf(error) === "ENOENT") return undefined
    throw error
  }
}

/**
 * Leases under `cacheDir/leases`. Fails with a `LocalBackendError` when the
 * folder cannot be created.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(
  cacheDir: string,
  settings: CacheLease.Settings = CacheLease.defaultSettings,
  identity?: Partial<Identity>
): Effect.fn.Return<CacheLease.Shape, LocalBackendError> {
  const dir = path.join(path.resolve(cacheDir), "leases")
  yield* Effect.try({
    try: () => fs.mkdirSync(dir, { recursive: true }),
    catch: (cause) => new LocalBackendError({ operation: "create the leases folder", path: dir, reason: files.describe(cause), cause })
  })
  const me: Identity = { host: identity?.host ?? os.hostname(), pid: identity?.pid ?? process.pid, token: identity?.token ?? randomUUID() }
  ownTokens.add(me.token)
  const io = files.nodeIo

  const fileOf = (key: string) => {
    if (!VALID_KEY.test(key)) throw new Error(`not a cache key: ${JSON.stringify(key)}`)
    return path.join(dir, key)
  }
  const attempt = <A>(operation: string, key: string, body: () => A) =>
    Effect.try({
      try: body,
      catch: (cause) =>
        new CacheStore.CacheStoreError({ backend: "local", operation, location: path.join(dir, key), reason: files.describe(cause), cause })
    })
  /** This owner's lease as of `now`, in a temp file; the folder made again if it was removed (`rm -rf .expops` mid-run). */
  const written = (key: string, now: number): string => {
    const bytes = Buffer.from(contentAt(now))
    try {
      return files.writeTemp(io, dir, key, bytes, false)
    } catch (error) {
      if (files.errnoOf(error) !== "ENOENT") throw error
      fs.mkdirSync(dir, { recursive: true })
      return files.writeTemp(io, dir, key, bytes, false)
    }
  }
  const describeOwner = (s: Stored) => `pid ${s.pid} on ${s.host}`
  // Only a real owner's start time is recorded: an identity made up by a test is judged by its heartbeat.
  const started = me.pid === process.pid ? startTimeOf(me.pid) : undefined
  const contentAt = (now: number) =>
    `${JSON.stringify({ host: me.host, pid: me.pid, ...(started === undefined ? {} : { started }), token: me.token, renewedAt: now } satisfies Stored)}\n`

  const isStale = (stored: Stored | undefined, now: number): boolean => {
    // A file that is not a lease (damaged by hand) protects nothing.
    if (stored === undefined) return true
    const expired = now - stored.renewedAt > settings.expiryMs
    if (stored.host !== me.host) return expired
    // This very pid: a lease of this process, or of a dead one whose pid it was given.
    if (stored.pid === me.pid) return !ownTokens.has(stored.token)
    if (!processExists(stored.pid)) return true
    const stat = procStat(stored.pid)
    // Exited, and not yet reaped by its parent (a zombie): it holds nothing.
    if (stat?.state === "Z" || stat?.state === "X") return true
    const started = stored.started === undefined ? undefined : stat?.started
    // Alive, and the same process: its lease holds, renewed or not.
    return started === undefined ? expired : started !== stored.started
  }

  const leaseOf = (key: string): CacheLease.Lease => ({
    key,
    renew: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      attempt("renew lease", key, () => {
        const file = fileOf(key)
        const text = readIfExists(file)
        if (text === undefined || parse(text)?.token !== me.token) return false
        io.renameSync(written(key, now), file)
        return true
      })),
    release: attempt("release lease", key, () => {
      const file = fileOf(key)
      const text = readIfExists(file)
      if (text !== undefined && parse(text)?.token === me.token) files.removeIfExists(io, file)
    })
  })

  /** What is there now: acquired when free, else who holds it. */
  const acquireAt = (key: string, now: number): CacheLease.Attempt => {
    const file = fileOf(key)
    for (;;) {
      if (files.publishExclusive(io, written(key, now), file)) {
        return { _tag: "Acquired", lease: leaseOf(key) }
      }
      const text = readIfExists(file)
      // Released between the link and the read: try again.
      if (text === undefined) continue
      const stored = parse(text)
      return { _tag: "Held", owner: stored === undefined ? "an unreadable lease" : describeOwner(stored), stale: isStale(stored, now), version: text }
    }
  }

  const acquire: CacheLease.Shape["acquire"] = (key) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => attempt("acquire lease", key, () => acquireAt(key, now)))

  const takeOver: CacheLease.Shape["takeOver"] = (key, held) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      attempt("take over lease", key, (): CacheLease.Attempt => {
        const file = fileOf(key)
        const seen = String(held.version)
        const marker = `${file}.takeover-${createHash("sha256").update(seen).digest("hex").slice(0, 16)}`
        if (!createExclusive(marker)) {
          // Another run is taking this very lease over; a marker its taker left when it died goes after the expiry.
          if (ageMs(marker) > settings.expiryMs) files.removeIfExists(io, marker)
          return { ...held, stale: false }
        }
        try {
          const text = readIfExists(file)
          if (text !== seen) return text === undefined ? acquireAt(key, now) : heldNow(text, now)
          io.renameSync(written(key, now), file)
          return { _tag: "Acquired", lease: leaseOf(key) }
        } finally {
          files.removeQuietly(io, marker)
        }
      }))

  const heldNow = (text: string, now: number): CacheLease.Held => {
    const stored = parse(text)
    return { _tag: "Held", owner: stored === undefined ? "an unreadable lease" : describeOwner(stored), stale: isStale(stored, now), version: text }
  }

  const createExclusive = (file: string): boolean => {
    try {
      fs.writeFileSync(file, `${me.pid}\n`, { flag: "wx" })
      return true
    } catch (error) {
      if (files.errnoOf(error) === "EEXIST") return false
      throw error
    }
  }

  const ageMs = (file: string): number => {
    try {
      return Date.now() - fs.statSync(file).mtimeMs
    } catch {
      return 0
    }
  }

  return { backend: "local", settings, acquire, takeOver } satisfies CacheLease.Shape
})

/**
 * Leases for the cache in `cacheDir`.
 *
 * @since 0.1.0
 */
export const layer = (cacheDir: string, settings?: CacheLease.Settings): Layer.Layer<CacheLease.CacheLease, LocalBackendError> =>
  Layer.effect(CacheLease.CacheLease, make(cacheDir, settings))
