/**
 * File primitives of the local store: atomic publication (temp file, fsync,
 * link or rename), reads that treat a vanished file as a miss, and errno
 * codes in plain words.
 *
 * Everything here is synchronous on purpose: a hit reads one small file, and
 * a synchronous open+read+close costs a few microseconds where a promise-based
 * read costs a hundred or more. Large files have asynchronous variants that
 * move data in chunks, straight from or into one caller-sized buffer.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * The file-system calls the store makes, so tests can swap in failing ones
 * (a full disk, a read-only medium) without touching the real disk.
 */
export interface Io {
  readonly openSync: typeof fs.openSync
  readonly writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null) => number
  readonly fsyncSync: typeof fs.fsyncSync
  readonly closeSync: typeof fs.closeSync
  readonly linkSync: typeof fs.linkSync
  readonly renameSync: typeof fs.renameSync
  readonly unlinkSync: typeof fs.unlinkSync
  readonly mkdirSync: typeof fs.mkdirSync
  /** Asynchronous chunk write, for large blobs. */
  readonly write: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => Promise<number>
  /** Asynchronous flush of a file's data, while a large blob is still being hashed and written. */
  readonly fdatasync: (fd: number) => Promise<void>
}

export const nodeIo: Io = {
  openSync: fs.openSync,
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  fsyncSync: fs.fsyncSync,
  closeSync: fs.closeSync,
  linkSync: fs.linkSync,
  renameSync: fs.renameSync,
  unlinkSync: fs.unlinkSync,
  mkdirSync: fs.mkdirSync,
  write: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) =>
      fs.write(fd, buffer, offset, length, position, (error, written) => (error ? reject(error) : resolve(written)))
    ),
  fdatasync: (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())))
}

/** Files at least this large are read and written asynchronously, in chunks. */
export const LARGE_FILE = 8 * 1024 * 1024
const CHUNK = 8 * 1024 * 1024

export const errnoOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined

const REASONS: Record<string, string> = {
  ENOSPC: "no space left on the device (disk full)",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "a folder is in the way",
  EEXIST: "a file is in the way",
  EIO: "input/output error",
  EMFILE: "too many open files",
  ENAMETOOLONG: "the path is too long"
}

/** A cause in plain words, keeping the errno code for searching. */
export const describe = (error: unknown): string => {
  const code = errnoOf(error)
  if (code !== undefined && REASONS[code] !== undefined) return `${REASONS[code]} (${code})`
  return error instanceof Error ? error.message : String(error)
}

let counter = 0
/** A temp name that no other writer, in this process or another, will pick. */
export const tempName = (dir: string, base: string): string =>
  path.join(dir, `.tmp-${base.slice(0, 16)}-${process.pid}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`)

export const isTemp = (name: string): boolean => name.startsWith(".tmp-")

/**
 * A plain `Uint8Array` (not a `Buffer`, so results compare equal to what was
 * stored). Large ones skip zero-filling, since they are overwritten at once.
 */
const allocate = (size: number): Uint8Array => {
  if (size < 64 * 1024) return new Uint8Array(size)
  const slow = Buffer.allocUnsafeSlow(size)
  return new Uint8Array(slow.buffer, slow.byteOffset, size)
}

/**
 * Small files (manifests) are read into this buffer first: a read that does
 * not fill it has read the whole file, which saves asking for the size.
 */
const scratch = new Uint8Array(16 * 1024)

/**
 * Reads leave the file's access time alone where the system allows it
 * (Linux's `O_NOATIME`). The store keeps its own record of use, and
 * otherwise the first read of an entry after its write, and any read a day
 * after the last, writes the file's inode: about a microsecond more on a
 * hit. Only a file's owner may ask for it; once a read is refused
 * (`EPERM`, a cache shared between users), this process stops asking.
 */
export const readOpener = (open: (file: string, flags: number) => number): (file: string) => number => {
  const plain = fs.constants.O_RDONLY
  let flags = plain | (fs.constants.O_NOATIME ?? 0)
  return (file) => {
    try {
      return open(file, flags)
    } catch (error) {
      if (flags === plain || errnoOf(error) !== "EPERM") throw error
      flags = plain
      return open(file, flags)
    }
  }
}

// Looked up on each call: while bodies run, `Trace` wraps `fs.openSync` (and ignores the store's own folder).
const openForReading = readOpener((file, flags) => fs.openSync(file, flags))

/** The whole file, or `undefined` when it does not exist (or vanished before we opened it). */
export const readIfExists = (file: string): Uint8Array | undefined =>
  readSmallIfExists(file, (bytes) => (bytes !== undefined && bytes.buffer === scratch.buffer ? bytes.slice() : bytes))

/**
 * Reads a file and hands it to `use`, or `undefined` when it does not exist
 * (or vanished before we opened it). A small file is passed as a view of a
 * buffer the next read reuses, not copied (copying the bytes of a manifest
 * costs about a microsecond of the few a hit takes): `use` must keep nothing
 * of it.
 */
export const readSmallIfExists = <A>(file: string, use: (bytes: Uint8Array | undefined) => A): A => {
  let fd: number
  try {
    fd = openForReading(file)
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return use(undefined)
    throw error
  }
  let bytes: Uint8Array
  try {
    // Once open, the content stays readable even if another process renames
    // or unlinks the file meanwhile (POSIX keeps the inode alive).
    const first = fs.readSync(fd, scratch, 0, scratch.byteLength, 0)
    if (first < scratch.byteLength) bytes = scratch.subarray(0, first)
    else {
      const size = fs.fstatSync(fd).size
      const buffer = allocate(size)
      let read = 0
      while (read < size) {
        const n = fs.readSync(fd, buffer, read, Math.min(CHUNK, size - read), read)
        if (n === 0) break
        read += n
      }
      bytes = read === size ? buffer : buffer.subarray(0, read)
    }
  } finally {
    fs.closeSync(fd)
  }
  return use(bytes)
}

/**
 * Reads a large file without blocking the event loop, into one buffer of its
 * final size (the content is never held twice), calling `onChunk` with each
 * chunk while the thread pool reads the next one.
 */
const readLarge = async (file: string, onChunk?: (chunk: Uint8Array) => void): Promise<Uint8Array | undefined> => {
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(file, "r")
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return undefined
    throw error
  }
  try {
    const size = (await handle.stat()).size
    const buffer = allocate(size)
    const readAt = (at: number) => handle.read(buffer, at, Math.min(CHUNK, size - at), at)
    let read = 0
    let reading = size > 0 ? readAt(0) : undefined
    while (reading !== undefined) {
      const { bytesRead } = await reading
      if (bytesRead === 0) break
      const start = read
      read += bytesRead
      reading = read < size ? readAt(read) : undefined
      onChunk?.(buffer.subarray(start, read))
    }
    return read === size ? buffer : buffer.subarray(0, read)
  } finally {
    await handle.close()
  }
}

/** Like `readIfExists`, without blocking the event loop: for large blobs. */
export const readLargeIfExists = (file: string): Promise<Uint8Array | undefined> => readLarge(file)

/**
 * `readLargeIfExists` that also answers the SHA-256 of what it read: each
 * chunk is hashed on this thread while the thread pool reads the next, so
 * reading and verifying a large blob overlap instead of following each other.
 */
export const readLargeHashingIfExists = async (file: string): Promise<{ readonly bytes: Uint8Array; readonly sha256: string } | undefined> => {
  const hash = createHash("sha256")
  const bytes = await readLarge(file, (chunk) => hash.update(chunk))
  return bytes === undefined ? undefined : { bytes, sha256: hash.digest("hex") }
}

/** Size of a regular file, or `undefined` when there is none. */
export const sizeIfExists = (file: string): number | undefined => {
  const stat = fs.statSync(file, { throwIfNoEntry: false })
  return stat !== undefined && stat.isFile() ? stat.size : undefined
}

/** Makes a directory entry durable (the name created by a rename or link). */
export const fsyncDir = (io: Io, dir: string): void => {
  let fd: number | undefined
  try {
    fd = io.openSync(dir, "r")
    io.fsyncSync(fd)
  } catch (error) {
    // Some file systems cannot fsync a directory (EINVAL, EISDIR): nothing to gain there.
    const code = errnoOf(error)
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM") throw error
  } finally {
    if (fd !== undefined) io.closeSync(fd)
  }
}

/** Writes `bytes` to a new temp file in `dir`, fsynced when asked. Returns its path; removes it on failure. */
export const writeTemp = (io: Io, dir: string, base: string, bytes: Uint8Array, sync: boolean): string => {
  const temp = tempName(dir, base)
  const fd = io.openSync(temp, "wx", 0o644)
  try {
    let written = 0
    while (written < bytes.byteLength) {
      written += io.writeSync(fd, bytes, written, Math.min(CHUNK, bytes.byteLength - written), written)
    }
    if (sync) io.fsyncSync(fd)
  } catch (error) {
    safeClose(io, fd)
    removeQuietly(io, temp)
    throw error
  }
  io.closeSync(fd)
  return temp
}

/** `writeTemp` for large buffers: chunks are written asynchronously from the caller's buffer, never copied. */
export const writeTempLarge = async (io: Io, dir: string, base: string, bytes: Uint8Array, sync: boolean): Promise<string> => {
  const temp = tempName(dir, base)
  const fd = io.openSync(temp, "wx", 0o644)
  try {
    let written = 0
    while (written < bytes.byteLength) {
      written += await io.write(fd, bytes, written, Math.min(CHUNK, bytes.byteLength - written), written)
    }
    if (sync) io.fsyncSync(fd)
  } catch (error) {
    safeClose(io, fd)
    removeQuietly(io, temp)
    throw error
  }
  io.closeSync(fd)
  return temp
}

/**
 * While a very large blob is written with fsync, what is written is flushed
 * every this many bytes, so its last flush has a bounded amount left. Not
 * more often: on ext4 each flush commits the journal, which stalls the
 * writes running meanwhile and, with other processes writing, waits for
 * their data too. A blob up to this size is flushed once, when all of it is
 * written, while the hashing finishes.
 */
const FLUSH_EVERY = 256 * 1024 * 1024

/**
 * Chunk writes queued in the thread pool at once. Writes to one file run one
 * after another in the kernel; with the next one already queued, the disk
 * never waits for this thread to come back from hashing and ask for it.
 */
const WRITES_IN_FLIGHT = 2

/** Hashing gives the event loop a turn after each slice this large, so landed writes are followed by the next at once. */
const HASH_SLICE = 1024 * 1024

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * `writeTempLarge` that also answers the SHA-256 of the bytes. The thread
 * pool writes the chunks, `WRITES_IN_FLIGHT` queued at a time, while this
 * thread hashes the same bytes in slices: neither waits for the other, and
 * the bytes are never copied. With `sync`, the file is flushed (fdatasync)
 * as soon as the last chunk is written, so the disk works while hashing
 * finishes, and every `FLUSH_EVERY` bytes before. When `exists(digest)`
 * says the blob is already stored, the temp file is removed and `temp` is
 * undefined.
 */
export const writeTempHashing = async (
  io: Io,
  dir: string,
  bytes: Uint8Array,
  sync: boolean,
  exists: (digest: string) => boolean
): Promise<{ readonly temp: string | undefined; readonly digest: string }> => {
  const temp = tempName(dir, "blob")
  const fd = io.openSync(temp, "wx", 0o644)
  const size = bytes.byteLength
  // Everything started on the descriptor, as promises that settle without
  // failing: the descriptor is closed only once they all have (a write still
  // running could otherwise land in a file that reused its number).
  const started: Array<Promise<void>> = []
  // The first failure of a write or flush: each gets its handler when it
  // starts, so one that fails while this thread hashes is kept, not unhandled.
  let failure: { readonly error: unknown } | undefined
  const track = (operation: Promise<unknown>): Promise<void> => {
    const settled = operation.then(() => undefined, (error: unknown) => {
      failure ??= { error }
    })
    started.push(settled)
    return settled
  }

  /** Writes `bytes[at, end)`, resuming a write that comes back short. */
  const writeRange = async (at: number, end: number): Promise<void> => {
    while (at < end && failure === undefined) {
      const written = await io.write(fd, bytes, at, end - at, at)
      if (written <= 0) throw new Error(`the file system accepted none of ${end - at} bytes`)
      at += written
    }
  }
  let queued = 0
  let written = 0
  let flushAt = FLUSH_EVERY
  let flushing: Promise<void> | undefined
  /** One of the `WRITES_IN_FLIGHT` lanes: writes the next chunk nobody has taken until none is left. */
  const lane = async (): Promise<void> => {
    while (queued < size && failure === undefined) {
      const at = queued
      const end = Math.min(at + CHUNK, size)
      queued = end
      await track(writeRange(at, end))
      written += end - at
      // One flush at a time; a threshold passed meanwhile is flushed by the next.
      if (sync && written >= flushAt && written < size && flushing === undefined) {
        flushAt = written + FLUSH_EVERY
        flushing = track(io.fdatasync(fd)).then(() => {
          flushing = undefined
        })
      }
    }
  }
  const writing = Promise.all(Array.from({ length: WRITES_IN_FLIGHT }, lane)).then(async () => {
    if (!sync || failure !== undefined) return
    // Everything is written: flush it while this thread may still be hashing.
    // This is the file's durable point: fdatasync after the last write makes
    // its bytes and its size durable; the timestamps an fsync would add are
    // not needed to read the blob back.
    await flushing
    await track(io.fdatasync(fd))
  })

  try {
    const hash = createHash("sha256")
    for (let at = 0; at < size && failure === undefined;) {
      const end = Math.min(at + HASH_SLICE, size)
      hash.update(bytes.subarray(at, end))
      at = end
      if (at < size) await nextTurn()
    }
    await writing
    await Promise.all(started)
    if (failure !== undefined) throw failure.error
    const digest = hash.digest("hex")
    if (exists(digest)) {
      io.closeSync(fd)
      removeQuietly(io, temp)
      return { temp: undefined, digest }
    }
    io.closeSync(fd)
    return { temp, digest }
  } catch (error) {
    await writing
    await Promise.all(started)
    safeClose(io, fd)
    removeQuietly(io, temp)
    throw error
  }
}

const safeClose = (io: Io, fd: number): void => {
  try {
    io.closeSync(fd)
  } catch {
    // Already failing: the first error is the one to report.
  }
}

/** Unlinks a file, ignoring one that is already gone. */
export const removeQuietly = (io: Io, file: string): void => {
  try {
    io.unlinkSync(file)
  } catch {
    // Best effort: a leftover temp file is harmless and removed by `prune`/`clear`.
  }
}

/** Unlinks a file; a file already gone is not an error. */
export const removeIfExists = (io: Io, file: string): boolean => {
  try {
    io.unlinkSync(file)
    return true
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return false
    throw error
  }
}

/**
 * Publishes `temp` as `target` unless `target` exists. Exactly one of any
 * number of racing writers, in any process, gets `true`: `link(2)` fails
 * with EEXIST when the name is taken, atomically.
 */
export const publishExclusive = (io: Io, temp: string, target: string): boolean => {
  try {
    io.linkSync(temp, target)
    return true
  } catch (error) {
    const code = errnoOf(error)
    if (code === "EEXIST") return false
    // No hard links on this file system: fall back to check-then-rename,
    // which leaves a narrow window where two writers both win. Both wrote a
    // complete, valid file, so a reader still never sees a partial one.
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EMLINK") {
      if (fs.existsSync(target)) return false
      io.renameSync(temp, target)
      return true
    }
    throw error
  } finally {
    removeQuietly(io, temp)
  }
}

/** A listed file; `size` and `mtimeMs` are 0 when not asked for. */
export interface Listed {
  readonly name: string
  readonly size: number
  readonly mtimeMs: number
}

/** Lists the entries of a sharded folder: `root/ab/<name>`, skipping temp files. */
export const listSharded = (root: string, withStat: boolean): Array<Listed> => {
  const out: Array<Listed> = []
  let shards: Array<fs.Dirent>
  try {
    shards = fs.readdirSync(root, { withFileTypes: true })
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return out
    throw error
  }
  for (const shard of shards) {
    if (!shard.isDirectory()) continue
    const dir = path.join(root, shard.name)
    let names: Array<string>
    try {
      names = fs.readdirSync(dir)
    } catch (error) {
      if (errnoOf(error) === "ENOENT") continue
      throw error
    }
    for (const name of names) {
      if (name.startsWith(".")) continue
      if (!withStat) {
        out.push({ name, size: 0, mtimeMs: 0 })
        continue
      }
      // A file removed since readdir is simply not listed.
      const stat = fs.statSync(path.join(dir, name), { throwIfNoEntry: false })
      if (stat !== undefined && stat.isFile()) out.push({ name, size: stat.size, mtimeMs: stat.mtimeMs })
    }
  }
  return out
}

/** Temp files left by killed writers in a sharded folder, with their age. */
export const listTemps = (root: string): Array<{ path: string; mtimeMs: number }> => {
  const out: Array<{ path: string; mtimeMs: number }> = []
  let shards: Array<string>
  try {
    shards = fs.readdirSync(root)
  } catch {
    return out
  }
  for (const shard of shards) {
    // A large blob is written to a temp file in the root, before its digest (and so its shard) is known.
    if (isTemp(shard)) {
      const stat = fs.statSync(path.join(root, shard), { throwIfNoEntry: false })
      if (stat !== undefined) out.push({ path: path.join(root, shard), mtimeMs: stat.mtimeMs })
      continue
    }
    const dir = path.join(root, shard)
    let names: Array<string> = []
    try {
      names = fs.readdirSync(dir)
    } catch {
      continue
    }
    for (const name of names) {
      if (!isTemp(name)) continue
      const stat = fs.statSync(path.join(dir, name), { throwIfNoEntry: false })
      if (stat !== undefined) out.push({ path: path.join(dir, name), mtimeMs: stat.mtimeMs })
    }
  }
  return out
}
