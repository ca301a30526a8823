/**
 * Pack files: many manifests in one file, each read back with one `pread`
 * on a descriptor kept open, instead of an open+read+close of its own file
 * (about 1 µs against 5-7 on a hit; see docs/performance.md).
 *
 * ```
 * header   "EXPOPAK1" | count u32 | 0 u32                        16 bytes
 * table    count slots, sorted by key:
 *          key (32 bytes) | offset u32 low, u32 high | length u32  44 bytes each
 * digest   SHA-256 of header and table                            32 bytes
 * records  each manifest exactly as `Manifest.encode` wrote it
 * ```
 *
 * A pack is written whole to a temp file and renamed into place, and never
 * changes afterwards but for one thing: deleting a record overwrites its
 * first byte (a hex digit of its checksum) with `-`, a tombstone. One byte
 * is written atomically, in place, so every process reading the pack sees
 * the deletion at once, through whatever descriptor it holds. A record is
 * otherwise checked as a manifest file is: `Manifest.decode` verifies its
 * checksum and its key. The table is checked by its digest when the pack is
 * opened, so an offset read from it is one the writer wrote.
 */
import { hash } from "node:crypto"
import * as fs from "node:fs"
import * as Schema from "effect/Schema"

const MAGIC = Buffer.from("EXPOPAK1", "latin1")
const HEADER = 16
const SLOT = 44
const DIGEST = 32

/** What a deleted record's first byte is overwritten with. */
const TOMBSTONE = 0x2d // "-"

/** The file name of a pack ends so; temp files and the lock do not. */
export const EXTENSION = ".pack"

const HEX_KEY = /^[0-9a-f]{64}$/

/** Keys a pack can hold: SHA-256 digests in lower-case hex, as `Cache` makes them. Others stay in their files. */
export const isPackable = (key: string): boolean => HEX_KEY.test(key)

/**
 * A record to pack: a manifest's key, the size of its stored bytes, and
 * where to get them when they are written (read from another pack then,
 * so that packing holds one record at a time, not all of them).
 */
export interface Entry {
  readonly key: string
  readonly length: number
  readonly bytes: () => Uint8Array
}

/** Why a file in the packs folder cannot be read as a pack. */
export class PackFormatError extends Schema.TaggedError<PackFormatError>()("PackFormatError", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file} is not a valid pack: ${this.reason}`
  }
}

/** Reading a pack failed (an I/O error, not a missing record): names the pack, keeps the cause. */
export class PackReadError extends Schema.TaggedError<PackReadError>()("PackReadError", {
  file: Schema.String,
  cause: Schema.Defect()
}) {}

/**
 * Writes `entries` (distinct keys, any order) as a pack to the open
 * descriptor `fd`, with `write(fd, bytes, position)` writing all of `bytes`.
 */
export const writeTo = (fd: number, entries: ReadonlyArray<Entry>, write: (fd: number, bytes: Uint8Array, position: number) => void): void => {
  const sorted = [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const head = Buffer.alloc(HEADER + sorted.length * SLOT)
  MAGIC.copy(head, 0)
  head.writeUInt32LE(sorted.length, 8)
  let offset = head.byteLength + DIGEST
  for (let i = 0; i < sorted.length; i++) {
    const { key, length } = sorted[i]!
    if (i > 0 && sorted[i - 1]!.key === key) throw new Error(`two records for key ${key}`)
    const at = HEADER + i * SLOT
    head.write(key, at, 32, "hex")
    head.writeUInt32LE(offset % 0x1_0000_0000, at + 32)
    head.writeUInt32LE(Math.floor(offset / 0x1_0000_0000), at + 36)
    head.writeUInt32LE(length, at + 40)
    offset += length
  }
  write(fd, head, 0)
  write(fd, hash("sha256", head, "buffer"), head.byteLength)
  // Records are gathered into writes of about a mebibyte: one system call per record would cost more than the copy.
  const staged = Buffer.allocUnsafe(WRITE_CHUNK)
  let stagedBytes = 0
  let position = head.byteLength + DIGEST
  const flush = () => {
    if (stagedBytes > 0) write(fd, staged.subarray(0, stagedBytes), position - stagedBytes)
    stagedBytes = 0
  }
  for (const entry of sorted) {
    const bytes = entry.bytes()
    if (bytes.byteLength !== entry.length) throw new Error(`record ${entry.key} changed size while packed`)
    if (stagedBytes + bytes.byteLength > WRITE_CHUNK) flush()
    if (bytes.byteLength > WRITE_CHUNK) write(fd, bytes, position)
    else {
      staged.set(bytes, stagedBytes)
      stagedBytes += bytes.byteLength
    }
    position += bytes.byteLength
  }
  flush()
}

const WRITE_CHUNK = 1024 * 1024

/** Reads exactly `length` bytes at `position`, or fewer when the file ends first. */
const readAt = (fd: number, into: Uint8Array, length: number, position: number): number => {
  let read = 0
  while (read < length) {
    const n = fs.readSync(fd, into, read, length - read, position + read)
    if (n === 0) break
    read += n
  }
  return read
}

/**
 * An open pack: its table in memory, its records read on demand. The
 * descriptor stays open until `close`, so the pack stays readable after
 * another process compacted it away (POSIX keeps the unlinked inode).
 */
export class Pack {
  /** For each 16-bit key prefix p, the first slot whose prefix is p or more: the slots of p are [fanout[p], fanout[p + 1]). */
  readonly #fanout: Uint32Array
  readonly #table: Buffer

  readonly file: string
  readonly fd: number
  readonly count: number
  /** The pack file's size in bytes. */
  readonly size: number
  /** The bytes of its records, deleted or not: the size of what packing it copies at most. */
  readonly recordBytes: number

  private constructor(file: string, fd: number, count: number, size: number, table: Buffer) {
    this.file = file
    this.fd = fd
    this.count = count
    this.size = size
    this.recordBytes = size - HEADER - table.byteLength - DIGEST
    this.#table = table
    const fanout = new Uint32Array(65537)
    for (let i = 0; i < count; i++) fanout[table.readUInt16BE(i * SLOT) + 1]!++
    for (let p = 1; p < fanout.length; p++) fanout[p]! += fanout[p - 1]!
    this.#fanout = fanout
  }

  /** Opens and checks a pack; the descriptor comes from `open`, and is closed again if the pack is not valid. */
  static open(file: string, open: (file: string) => number): Pack {
    const fd = open(file)
    try {
      const size = fs.fstatSync(fd).size
      const header = Buffer.alloc(HEADER)
      if (readAt(fd, header, HEADER, 0) < HEADER || !header.subarray(0, 8).equals(MAGIC)) {
        throw new PackFormatError({ file, reason: "no pack header" })
      }
      const count = header.readUInt32LE(8)
      const tableEnd = HEADER + count * SLOT
      if (tableEnd + DIGEST > size) throw new PackFormatError({ file, reason: `truncated (${size} bytes for ${count} records)` })
      const head = Buffer.allocUnsafe(tableEnd + DIGEST)
      readAt(fd, head, head.byteLength, 0)
      if (!hash("sha256", head.subarray(0, tableEnd), "buffer").equals(head.subarray(tableEnd))) {
        throw new PackFormatError({ file, reason: "its table does not match its checksum" })
      }
      const table = head.subarray(HEADER, tableEnd)
      for (let i = 0; i < count; i++) {
        const end = offsetIn(table, i) + table.readUInt32LE(i * SLOT + 40)
        if (end > size) throw new PackFormatError({ file, reason: `truncated (record ${i} ends at ${end}, the file at ${size})` })
      }
      return new Pack(file, fd, count, size, table)
    } catch (error) {
      fs.closeSync(fd)
      throw error
    }
  }

  /** The slot of `key` (its 32 bytes), or -1. */
  find(key: Uint8Array): number {
    const prefix = (key[0]! << 8) | key[1]!
    let lo = this.#fanout[prefix]!
    let hi = this.#fanout[prefix + 1]!
    const table = this.#table
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const order = table.compare(key, 0, 32, mid * SLOT, mid * SLOT + 32)
      if (order === 0) return mid
      if (order < 0) lo = mid + 1
      else hi = mid
    }
    return -1
  }

  /** The slot of `key` (its 32 bytes) when its record is not deleted, or -1. */
  liveSlot(key: Uint8Array, scratch: Uint8Array): number {
    const slot = this.find(key)
    return slot >= 0 && this.isLive(slot, scratch) ? slot : -1
  }

  keyOf(slot: number): string {
    return this.#table.toString("hex", slot * SLOT, slot * SLOT + 32)
  }

  offsetOf(slot: number): number {
    return offsetIn(this.#table, slot)
  }

  lengthOf(slot: number): number {
    return this.#table.readUInt32LE(slot * SLOT + 40)
  }

  /**
   * The record in `slot`, read into `scratch` when it fits (a view the next
   * read reuses), or `undefined` when it was deleted.
   */
  read(slot: number, scratch: Uint8Array): Uint8Array | undefined {
    const bytes = this.readStored(slot, scratch)
    return bytes.byteLength > 0 && bytes[0] === TOMBSTONE ? undefined : bytes
  }

  /** The record in `slot` as stored, deleted or not (a view of `scratch` when it fits): what packing copies. */
  readStored(slot: number, scratch: Uint8Array): Uint8Array {
    const length = this.lengthOf(slot)
    const into = length <= scratch.byteLength ? scratch : new Uint8Array(length)
    return into.subarray(0, readAt(this.fd, into, length, this.offsetOf(slot)))
  }

  /** Whether the record in `slot` is not deleted: its first byte alone. */
  isLive(slot: number, scratch: Uint8Array): boolean {
    return readAt(this.fd, scratch, 1, this.offsetOf(slot)) === 1 && scratch[0] !== TOMBSTONE
  }

  /**
   * Deletes the records in `slots`, for every reader of the pack: writes
   * their tombstones through one descriptor opened for writing by
   * `openForWriting` (readers hold theirs read-only), flushed when `sync`.
   */
  kill(
    slots: ReadonlyArray<number>,
    openForWriting: (file: string) => number,
    write: (fd: number, bytes: Uint8Array, position: number) => void,
    sync: boolean
  ): void {
    if (slots.length === 0) return
    const fd = openForWriting(this.file)
    try {
      for (const slot of slots) write(fd, TOMBSTONE_BYTE, this.offsetOf(slot))
      if (sync) fs.fdatasyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  }

  close(): void {
    fs.closeSync(this.fd)
  }
}

const TOMBSTONE_BYTE = Uint8Array.of(TOMBSTONE)

const offsetIn = (table: Buffer, slot: number): number =>
  table.readUInt32LE(slot * SLOT + 32) + table.readUInt32LE(slot * SLOT + 36) * 0x1_0000_0000
