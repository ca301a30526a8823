/**
 * Digests of the files bodies read (and of the project's data file), cached
 * by what `stat` says about them — path, size, mtime and ctime (ns) and
 * inode, as git's index does — so that checking an entry's traced files on
 * a hit re-hashes only files that changed. `keep` and `restore` carry them
 * from one run to the next (`.expops/file-digests.bin`), so a cached run
 * over a large dataset costs a `stat`, not a read of the dataset.
 *
 * A file modified within the same instant it was hashed could keep its
 * size and times (git's "racily clean" case): a digest is remembered only
 * for files whose mtime and ctime are older than `RECENT_NS` when they were
 * hashed. The ctime is the kernel's: tools that restore an mtime (`cp -p`,
 * `rsync -t`, `touch -d`) change it.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as Path from "node:path"
import * as v8 from "node:v8"
import * as Effect from "effect/Effect"

/** What a file looked like when it was hashed; `undefined` is a missing file. */
export interface Signature {
  readonly size: bigint
  readonly mtimeNs: bigint
  readonly ctimeNs: bigint
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
/** Whether `known` holds what `restore` did not read: `keep` writes only then. */
let unkept = false

/** The signature of `path` now, or `undefined` when it does not exist (or is not a file). */
export const signature = (path: string): Signature | undefined => {
  let stat: fs.BigIntStats | undefined
  try {
    stat = statSync(path, { bigint: true, throwIfNoEntry: false })
  } catch {
    return undefined
  }
  if (stat === undefined || !stat.isFile()) return undefined
  return { size: stat.size, mtimeNs: stat.mtimeNs, ctimeNs: stat.ctimeNs, ino: stat.ino }
}

export const sameSignature = (a: Signature | undefined, b: Signature | undefined): boolean =>
  a === b ||
  (a !== undefined && b !== undefined && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino)

const remember = (path: string, sig: Signature, digest: string) => {
  const changed = sig.mtimeNs > sig.ctimeNs ? sig.mtimeNs : sig.ctimeNs
  if (BigInt(Date.now()) * 1_000_000n - changed > RECENT_NS) {
    const before = known.get(path)
    if (before === undefined || before.digest !== digest || !sameSignature(before.signature, sig)) unkept = true
    known.set(path, { signature: sig, digest })
  } else if (known.delete(path)) unkept = true
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
export const clear = (): void => {
  known.clear()
  unkept = false
}

/** What `keep` writes: a format tag, then `[path, size, mtimeNs, ctimeNs, ino, digest]` per file. */
const FORMAT = "expops/file-digests/1"

/** More files than a project's runs read: past it, the oldest kept are dropped. */
const MAX_KEPT = 100_000

type Kept = readonly [path: string, size: bigint, mtimeNs: bigint, ctimeNs: bigint, ino: bigint, digest: string]

const isKept = (row: unknown): row is Kept =>
  Array.isArray(row) && row.length === 6 && typeof row[0] === "string" && typeof row[1] === "bigint" &&
  typeof row[2] === "bigint" && typeof row[3] === "bigint" && typeof row[4] === "bigint" && typeof row[5] === "string"

/**
 * Adds the digests kept in `file` by an earlier run (those this process
 * does not know already). A missing or damaged file adds nothing: every
 * digest is then computed again. Each is used only while its file's
 * signature is the one kept.
 */
export const restore = (file: string): void => {
  let value: unknown
  try {
    value = v8.deserialize(readFileSync(file))
  } catch {
    return
  }
  if (!Array.isArray(value) || value[0] !== FORMAT || !Array.isArray(value[1])) return
  for (const row of value[1] as ReadonlyArray<unknown>) {
    if (!isKept(row) || known.has(row[0])) continue
    known.set(row[0], { signature: { size: row[1], mtimeNs: row[2], ctimeNs: row[3], ino: row[4] }, digest: row[5] })
  }
}

/**
 * Writes the digests this process knows to `file` for the next run, when
 * it learnt any since `restore`, replacing it in one rename (a reader sees
 * the old file or the new one). Failing to write costs the next run its
 * re-hashing, nothing else.
 */
export const keep = (file: string): void => {
  if (!unkept) return
  unkept = false
  const rows: Array<Kept> = []
  for (const [path, { digest, signature }] of known) {
    rows.push([path, signature.size, signature.mtimeNs, signature.ctimeNs, signature.ino, digest])
  }
  const temp = `${file}.${process.pid}.tmp`
  try {
    fs.mkdirSync(Path.dirname(file), { recursive: true })
    fs.writeFileSync(temp, v8.serialize([FORMAT, rows.slice(-MAX_KEPT)]))
    fs.renameSync(temp, file)
  } catch {
    fs.rmSync(temp, { force: true })
  }
}
