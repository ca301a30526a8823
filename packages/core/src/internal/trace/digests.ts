/**
 * Digests of the files bodies read, cached by what `stat` says about them —
 * path, size, mtime (ns) and inode, as git's index does — so that checking
 * an entry's traced files on a hit re-hashes only files that changed.
 *
 * A file modified within the same instant it was hashed could keep its
 * size and mtime (git's "racily clean" case): a digest is remembered only
 * for files whose mtime is older than `RECENT_NS` when they were hashed.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as Effect from "effect/Effect"

/** What a file looked like when it was hashed; `undefined` is a missing file. */
export interface Signature {
  readonly size: bigint
  readonly mtimeNs: bigint
  readonly ino: bigint
}

/** The digest recorded for a file that did not exist. */
export const ABSENT = "absent"

/** The digest recorded for a file that changed while a body was reading it: never matches again. */
export const UNSTABLE = "changed-while-read"

const RECENT_NS = 2_000_000_000n
/** Files up to this size are hashed in one synchronous read; larger ones are streamed. */
const SYNC_LIMIT = 8 * 1024 * 1024

// The functions as Node defines them, kept before tracing wraps them, so
// that hashing is never itself recorded as a read.
const statSync = fs.statSync
const readFileSync = fs.readFileSync
const createReadStream = fs.createReadStream

const known = new Map<string, { readonly signature: Signature; readonly digest: string }>()

/** The signature of `path` now, or `undefined` when it does not exist (or is not a file). */
export const signature = (path: string): Signature | undefined => {
  let stat: fs.BigIntStats | undefined
  try {
    stat = statSync(path, { bigint: true, throwIfNoEntry: false })
  } catch {
    return undefined
  }
  if (stat === undefined || !stat.isFile()) return undefined
  return { size: stat.size, mtimeNs: stat.mtimeNs, ino: stat.ino }
}

export const sameSignature = (a: Signature | undefined, b: Signature | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ino === b.ino)

const remember = (path: string, sig: Signature, digest: string) => {
  if (BigInt(Date.now()) * 1_000_000n - sig.mtimeNs > RECENT_NS) known.set(path, { signature: sig, digest })
  else known.delete(path)
  return digest
}

const streamed = (path: string, sig: Signature): Effect.Effect<string> =>
  Effect.callback<string>((resume) => {
    const hash = createHash("sha256")
    const stream = createReadStream(path)
    stream.on("data", (chunk) => hash.update(chunk))
    // Vanished or unreadable between the stat and the read: it is not what was recorded.
    stream.on("error", () => resume(Effect.succeed(ABSENT)))
    stream.on("end", () => resume(Effect.succeed(remember(path, sig, hash.digest("hex")))))
    return Effect.sync(() => stream.destroy())
  })

/**
 * The digest of the file at `path` (absolute) now, when it can be had
 * without streaming: known by its signature, or the file is small (or
 * missing: `ABSENT`). `undefined` for a large file whose digest is not known.
 */
export const digestSync = (path: string, sig: Signature | undefined = signature(path)): string | undefined => {
  if (sig === undefined) return ABSENT
  const cached = known.get(path)
  if (cached !== undefined && sameSignature(cached.signature, sig)) return cached.digest
  if (sig.size > SYNC_LIMIT) return undefined
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch {
    return ABSENT
  }
  return remember(path, sig, createHash("sha256").update(bytes).digest("hex"))
}

/**
 * The digest of the file at `path` (absolute) now: `ABSENT` when there is
 * none. Synchronous (an `Exit`) when the digest is known or the file is
 * small; streamed otherwise.
 */
export const digest = (path: string, sig: Signature | undefined = signature(path)): Effect.Effect<string> => {
  const known = digestSync(path, sig)
  return known !== undefined ? Effect.succeed(known) : streamed(path, sig!)
}

/** Forgets every remembered digest (for tests). */
export const clear = (): void => known.clear()
