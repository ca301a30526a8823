/**
 * The packs of a store's `packs/` folder, as one set of records: looked up
 * on every hit, written when manifests are packed or compacted, and
 * tombstoned when entries are deleted (see `pack.ts` for the file format).
 *
 * The folder is the truth; this set is a view of it, read again at most a
 * second after it was last read, and at once whenever a key is found
 * nowhere (a miss may be an entry another process has just packed). A
 * record stays valid as long as it is not tombstoned: an entry's manifest is
 * write-once, so an older view never serves content a newer one would not.
 *
 * Packing copies manifests (from their files, or from packs being merged)
 * into a new pack, publishes it with a rename, then removes what it copied.
 * A record deleted at its source meanwhile is tombstoned in the new pack
 * too: its deleter either tombstoned it before the packer checked its
 * source again, or read the folder after the rename and tombstoned it in the
 * new pack itself. So a deletion is never undone, whichever process packs.
 * A lock file keeps two processes from packing the same files at once,
 * which would be correct but wasted work.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as files from "./files.ts"
import { type Entry, EXTENSION, isPackable, Pack, PackFormatError, PackReadError, writeTo } from "./pack.ts"
import { processExists } from "./processes.ts"

/** How long a view of the folder serves before it is read again. */
const REFRESH_MS = 1000

/** A lock older than this was left by a packer that died (packing takes seconds). */
const LOCK_EXPIRY_MS = 10 * 60 * 1000

/** The manifest files of the store, as packing needs them. */
export interface Loose {
  /** The keys of the manifest files. */
  readonly keys: () => Array<string>
  /** A manifest file's bytes (a copy), or `undefined` when it is gone. */
  readonly read: (key: string) => Uint8Array | undefined
  readonly exists: (key: string) => boolean
  readonly remove: (key: string) => void
}

export interface Options {
  readonly dir: string
  readonly io: files.Io
  readonly sync: boolean
  /** Whether `bytes` are a valid manifest of `key`: packing copies no corrupt file. */
  readonly isValid: (key: string, bytes: Uint8Array) => boolean
  /** Moves a file of the folder that is not a valid pack out of the way (and says so). */
  readonly quarantine: (file: string, reason: string) => void
}

/** What a packing did. */
export interface Packed {
  /** Records in the new pack (0: none was written). */
  readonly records: number
  /** Packs merged into it, and removed. */
  readonly merged: number
}

export const make = (options: Options) => {
  const { dir, io, sync } = options
  const byFile = new Map<string, Pack>()
  let packs: Array<Pack> = []
  let readAt = Number.NEGATIVE_INFINITY
  const keyBytes = Buffer.alloc(32)
  const scratch = new Uint8Array(16 * 1024)
  const open = files.readOpener((file, flags) => fs.openSync(file, flags))
  const write = (fd: number, bytes: Uint8Array, position: number) => {
    let written = 0
    while (written < bytes.byteLength) written += io.writeSync(fd, bytes, written, bytes.byteLength - written, position + written)
  }
  const openForWriting = (file: string) => io.openSync(file, "r+")

  /** Reads the folder: opens new packs, closes those that are gone. Answers the files found not to be packs (moved to the quarantine). */
  const refresh = (): Array<{ readonly file: string; readonly reason: string }> => {
    const damaged: Array<{ file: string; reason: string }> = []
    readAt = Date.now()
    let names: Array<string>
    try {
      names = fs.readdirSync(dir).filter((name) => name.endsWith(EXTENSION))
    } catch (error) {
      if (files.errnoOf(error) !== "ENOENT") throw error
      names = []
    }
    const listed = new Set(names.map((name) => path.join(dir, name)))
    for (const [file, pack] of byFile) {
      if (listed.has(file)) continue
      pack.close()
      byFile.delete(file)
    }
    for (const file of listed) {
      if (byFile.has(file)) continue
      try {
        byFile.set(file, Pack.open(file, open))
      } catch (error) {
        if (files.errnoOf(error) === "ENOENT") continue // compacted away since the listing
        if (error instanceof PackFormatError) {
          const reason = error.reason
          options.quarantine(file, reason)
          damaged.push({ file, reason })
          continue
        }
        throw new PackReadError({ file, cause: error })
      }
    }
    packs = [...byFile.values()]
    return damaged
  }

  const refreshIfStale = (): void => {
    if (Date.now() - readAt >= REFRESH_MS) void refresh()
  }

  /** The slot of `key` in `pack` whose record is not deleted, or -1. */
  const liveSlot = (pack: Pack, key: string): number => {
    keyBytes.write(key, 0, 32, "hex")
    return pack.liveSlot(keyBytes, scratch)
  }

  /**
   * The record of `key` (a view of a buffer the next read reuses), or
   * `undefined` when no pack holds it. On the hit path: one `pread`.
   */
  const read = (key: string): Uint8Array | undefined => {
    refreshIfStale()
    if (packs.length === 0 || !isPackable(key)) return undefined
    keyBytes.write(key, 0, 32, "hex")
    for (const pack of packs) {
      const slot = pack.find(keyBytes)
      if (slot < 0) continue
      let bytes: Uint8Array | undefined
      try {
        bytes = pack.read(slot, scratch)
      } catch (cause) {
        throw new PackReadError({ file: pack.file, cause })
      }
      if (bytes !== undefined) return bytes
    }
    return undefined
  }

  /** `read` after reading the folder again: for a key found nowhere. */
  const readAfterRefresh = (key: string): Uint8Array | undefined => {
    refresh()
    return read(key)
  }

  const has = (key: string): boolean => {
    refreshIfStale()
    return isPackable(key) && packs.some((pack) => liveSlot(pack, key) >= 0)
  }

  /** Tombstones the records of `keys` in every pack, including packs published meanwhile. Returns the packs touched. */
  const kill = (keys: ReadonlyArray<string>): Set<Pack> => {
    const packable = keys.filter(isPackable)
    const touched = new Set<Pack>()
    if (packable.length === 0) return touched
    const done = new Set<Pack>()
    const killIn = (pack: Pack) => {
      done.add(pack)
      const slots = packable.map((key) => liveSlot(pack, key)).filter((slot) => slot >= 0)
      if (slots.length === 0) return
      try {
        pack.kill(slots, openForWriting, write, sync)
        touched.add(pack)
      } catch (error) {
        // Compacted away since the folder was read: the pack that replaced it is seen below.
        if (files.errnoOf(error) !== "ENOENT") throw error
      }
    }
    refreshIfStale()
    for (const pack of packs) killIn(pack)
    // A packer may have copied these records into a pack it published meanwhile.
    refresh()
    for (const pack of packs) if (!done.has(pack)) killIn(pack)
    return touched
  }

  /** The copy of `key`'s record, for the quarantine; `undefined` when no pack holds it. */
  const copyOf = (key: string): Uint8Array | undefined => {
    const bytes = read(key)
    return bytes === undefined ? undefined : bytes.slice()
  }

  /** Calls `visit` with each record of `sources` that is not deleted and whose key is not in `seen` yet (then adds it). */
  const forEachLive = (sources: ReadonlyArray<Pack>, seen: Set<string>, visit: (pack: Pack, slot: number, key: string) => void) => {
    for (const pack of sources) {
      for (let slot = 0; slot < pack.count; slot++) {
        if (!pack.isLive(slot, scratch)) continue
        const key = pack.keyOf(slot)
        if (seen.has(key)) continue
        seen.add(key)
        visit(pack, slot, key)
      }
    }
  }

  /** Every record not deleted, with its size: what the packs add to a listing. */
  const list = (): Array<{ readonly key: string; readonly size: number }> => {
    refresh()
    const out: Array<{ key: string; size: number }> = []
    forEachLive(packs, new Set(), (pack, slot, key) => out.push({ key, size: pack.lengthOf(slot) }))
    return out
  }

  const lockFile = path.join(dir, ".lock")

  /** Takes the packing lock, or answers false when a live packer holds it. */
  const lock = (): boolean => {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = io.openSync(lockFile, "wx", 0o644)
        write(fd, Buffer.from(`${os.hostname()} ${process.pid}\n`), 0)
        io.closeSync(fd)
        return true
      } catch (error) {
        if (files.errnoOf(error) !== "EEXIST") throw error
        if (!lockIsStale()) return false
        files.removeQuietly(io, lockFile)
      }
    }
    return false
  }

  const lockIsStale = (): boolean => {
    try {
      const [host, pid] = fs.readFileSync(lockFile, "utf8").trim().split(" ")
      if (host === os.hostname() && pid !== undefined && !processExists(Number(pid))) return true
      return Date.now() - fs.statSync(lockFile).mtimeMs > LOCK_EXPIRY_MS
    } catch (error) {
      // Released meanwhile: try again.
      return files.errnoOf(error) === "ENOENT"
    }
  }

  /**
   * Writes one pack of the manifest files (with `loose`) and the packs
   * `merging` chooses, then removes what it copied. Skipped (nothing
   * written) when another process is packing.
   */
  const rewrite = (loose: Loose | undefined, merging: (packs: ReadonlyArray<Pack>, looseBytes: number) => ReadonlyArray<Pack>): Packed => {
    io.mkdirSync(dir, { recursive: true })
    if (!lock()) return { records: 0, merged: 0 }
    try {
      refresh()
      const entries: Array<Entry> = []
      /** For each entry, whether it is still there at its source: checked again once the new pack is published. */
      const stillThere: Array<() => boolean> = []
      const packedAlready: Array<string> = []
      const fromFiles: Array<string> = []
      let looseBytes = 0
      for (const key of loose?.keys() ?? []) {
        if (!isPackable(key)) continue
        if (packs.some((p) => liveSlot(p, key) >= 0)) {
          packedAlready.push(key)
          continue
        }
        const bytes = loose!.read(key)
        if (bytes === undefined || !options.isValid(key, bytes)) continue
        entries.push({ key, length: bytes.byteLength, bytes: () => bytes })
        stillThere.push(() => loose!.exists(key))
        fromFiles.push(key)
        looseBytes += bytes.byteLength
      }
      const merged = merging(packs, looseBytes)
      forEachLive(merged, new Set(entries.map((e) => e.key)), (source, slot, key) => {
        // Copied as stored when the pack is written: a record deleted by then is copied deleted.
        entries.push({ key, length: source.lengthOf(slot), bytes: () => source.readStored(slot, scratch) })
        stillThere.push(() => source.isLive(slot, scratch))
      })
      let records = 0
      if (entries.length > 0) {
        const fresh = Pack.open(publish(entries), open)
        records = entries.length
        // Checked while the sources are still there and open: what was deleted meanwhile is deleted here too.
        try {
          const gone = entries.filter((_, i) => !stillThere[i]!()).map((e) => e.key)
          fresh.kill(gone.map((key) => liveSlot(fresh, key)).filter((slot) => slot >= 0), openForWriting, write, sync)
        } finally {
          fresh.close()
        }
      }
      for (const source of merged) files.removeIfExists(io, source.file)
      for (const key of [...fromFiles, ...packedAlready]) loose!.remove(key)
      refresh()
      return { records, merged: merged.length }
    } finally {
      files.removeQuietly(io, lockFile)
    }
  }

  /** Writes `entries` to a temp file, flushed when `sync`, and renames it into place. Returns its path. */
  const publish = (entries: ReadonlyArray<Entry>): string => {
    const temp = files.tempName(dir, "pack")
    const fd = io.openSync(temp, "wx", 0o644)
    try {
      writeTo(fd, entries, write)
      if (sync) io.fsyncSync(fd)
    } catch (error) {
      io.closeSync(fd)
      files.removeQuietly(io, temp)
      throw error
    }
    io.closeSync(fd)
    const file = path.join(dir, `${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 10)}${EXTENSION}`)
    io.renameSync(temp, file)
    if (sync) files.fsyncDir(io, dir)
    return file
  }

  /**
   * Packs the manifest files, merging the smallest packs while each is no
   * larger than all that is merged so far: a record is rewritten about
   * log2(records / files packed at a time) times over its life, and the
   * folder holds about as many packs.
   */
  const pack = (loose: Loose): Packed =>
    rewrite(loose, (current, looseBytes) => {
      const merged: Array<Pack> = []
      let bytes = looseBytes
      for (const candidate of [...current].sort((a, b) => a.recordBytes - b.recordBytes)) {
        if (candidate.recordBytes > bytes) break
        merged.push(candidate)
        bytes += candidate.recordBytes
      }
      return merged
    })

  /**
   * Rewrites the packs among `touched` of which deleted records take a
   * quarter or more, without them (a pack left with none is removed), so
   * that deleting entries frees their space.
   */
  const compact = (touched: ReadonlySet<Pack>): Packed => {
    const open = new Set(byFile.values())
    const wasteful = [...touched].filter((candidate) => {
      if (!open.has(candidate)) return false // compacted away by another process
      let dead = 0
      for (let slot = 0; slot < candidate.count; slot++) if (!candidate.isLive(slot, scratch)) dead += candidate.lengthOf(slot)
      return dead * 4 >= candidate.recordBytes
    })
    if (wasteful.length === 0) return { records: 0, merged: 0 }
    return rewrite(undefined, (current) => current.filter((p) => wasteful.includes(p)))
  }

  /** Closes every pack. */
  const close = (): void => {
    for (const pack of byFile.values()) pack.close()
    byFile.clear()
    packs = []
    readAt = Number.NEGATIVE_INFINITY
  }

  return {
    /** Reads the folder now; answers the files found not to be packs. */
    check: refresh,
    read,
    readAfterRefresh,
    has,
    kill,
    copyOf,
    list,
    pack,
    compact,
    close
  }
}

export type Packs = ReturnType<typeof make>

/** Where some bytes are: `length` bytes at `offset` of `file`, a file of `fileSize` bytes. */
export interface Location {
  readonly file: string
  readonly offset: number
  readonly length: number
  readonly fileSize: number
}

/**
 * Where the packs in `dir` hold the live records of `keys`: for tools that
 * check entries without opening the store (a replayed run). Packs that
 * cannot be read are skipped: their entries are not where they say.
 */
export const locate = (dir: string, keys: Iterable<string>): Map<string, Location> => {
  const found = new Map<string, Location>()
  let names: Array<string>
  try {
    names = fs.readdirSync(dir).filter((name) => name.endsWith(EXTENSION))
  } catch {
    return found
  }
  const wanted = [...keys].filter(isPackable)
  const key = Buffer.alloc(32)
  const scratch = new Uint8Array(1)
  for (const name of names) {
    let pack: Pack
    try {
      pack = Pack.open(path.join(dir, name), (file) => fs.openSync(file, "r"))
    } catch {
      continue
    }
    try {
      for (const wantedKey of wanted) {
        if (found.has(wantedKey)) continue
        key.write(wantedKey, 0, 32, "hex")
        const slot = pack.liveSlot(key, scratch)
        if (slot >= 0) {
          found.set(wantedKey, { file: pack.file, offset: pack.offsetOf(slot), length: pack.lengthOf(slot), fileSize: pack.size })
        }
      }
    } finally {
      pack.close()
    }
  }
  return found
}
