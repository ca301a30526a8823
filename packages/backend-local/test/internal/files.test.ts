import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as files from "../../src/internal/files.ts"
import { tmpDir } from "../fixtures/tmp.ts"

const write = (dir: string, name: string, bytes: Uint8Array) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, bytes)
  return file
}

describe("files", () => {
  it("readSmallIfExists hands a small file over without copying it, and undefined for a missing one", () => {
    const dir = tmpDir()
    const a = write(dir, "a", new Uint8Array([1, 2, 3]))
    const b = write(dir, "b", new Uint8Array([9, 9]))
    const seen: Array<number> = []
    const first = files.readSmallIfExists(a, (bytes) => {
      seen.push(...bytes!)
      return bytes!
    })
    assert.deepStrictEqual(seen, [1, 2, 3])
    // A view of the buffer the next read reuses: what `use` keeps is not the file.
    files.readSmallIfExists(b, () => undefined)
    assert.deepStrictEqual([...first], [9, 9, 3])
    assert.strictEqual(files.readSmallIfExists(path.join(dir, "missing"), (bytes) => bytes), undefined)
  })

  it("readIfExists answers a copy of its own, for small and large files alike", () => {
    const dir = tmpDir()
    const small = files.readIfExists(write(dir, "small", new Uint8Array([1, 2, 3])))!
    files.readIfExists(write(dir, "other", new Uint8Array([7, 7, 7])))
    assert.deepStrictEqual([...small], [1, 2, 3])
    // Larger than the reused buffer: read whole into a buffer of its size.
    const large = new Uint8Array(40 * 1024).map((_, i) => i % 251)
    assert.deepStrictEqual(files.readIfExists(write(dir, "large", large)), large)
    assert.strictEqual(files.readIfExists(path.join(dir, "missing")), undefined)
  })
})

describe("reads and access times", () => {
  const noAtime = fs.constants.O_NOATIME

  it.skipIf(noAtime === undefined)("a read leaves the file's access time alone", () => {
    const file = write(tmpDir(), "entry", new Uint8Array([1, 2, 3]))
    // An access time before the change time: a relatime mount would update it on the next read.
    const old = new Date(Date.now() - 3 * 24 * 3600 * 1000)
    fs.utimesSync(file, old, fs.statSync(file).mtime)
    files.readSmallIfExists(file, () => undefined)
    assert.strictEqual(fs.statSync(file).atimeMs, old.getTime())
  })

  it.skipIf(noAtime === undefined)("a read refused the flag (a file of another user) is made without it, and so are all later ones", () => {
    const calls: Array<number> = []
    const open = files.readOpener((file, flags) => {
      calls.push(flags)
      if ((flags & noAtime!) !== 0) throw Object.assign(new Error(`EPERM: operation not permitted, open '${file}'`), { code: "EPERM" })
      return 7
    })
    assert.strictEqual(open("a"), 7)
    assert.strictEqual(open("b"), 7)
    assert.deepStrictEqual(calls, [fs.constants.O_RDONLY | noAtime!, fs.constants.O_RDONLY, fs.constants.O_RDONLY])
  })

  it("other failures pass through, flag or not", () => {
    const open = files.readOpener(() => {
      throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" })
    })
    assert.throws(() => open("a"), /EACCES/)
  })
})

describe("hashing while writing and reading large files", () => {
  const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
  const data = new Uint8Array(20 * 1024 * 1024 + 3).map((_, i) => (i * 11) % 251)

  it("writeTempHashing writes the bytes and answers their SHA-256, also when writes come back short", async () => {
    const dir = tmpDir()
    // A disk that writes at most a third of what it is asked each time.
    const io: files.Io = {
      ...files.nodeIo,
      write: (fd, buffer, offset, length, position) => files.nodeIo.write(fd, buffer, offset, Math.max(1, Math.floor(length / 3)), position)
    }
    for (const sync of [true, false]) {
      const { digest, temp } = await files.writeTempHashing(io, dir, data, sync, () => false)
      assert.strictEqual(digest, sha(data))
      assert.deepStrictEqual(new Uint8Array(fs.readFileSync(temp!)), data)
    }
  })

  it("writeTempHashing leaves nothing when the blob exists already, or when writing fails", async () => {
    const dir = tmpDir()
    const existing = await files.writeTempHashing(files.nodeIo, dir, data, true, () => true)
    assert.strictEqual(existing.temp, undefined)
    assert.strictEqual(existing.digest, sha(data))
    let calls = 0
    const failing: files.Io = {
      ...files.nodeIo,
      write: (fd, buffer, offset, length, position) =>
        ++calls < 2 ? files.nodeIo.write(fd, buffer, offset, length, position) : Promise.reject(Object.assign(new Error("full"), { code: "ENOSPC" }))
    }
    const error = await files.writeTempHashing(failing, dir, data, true, () => false).then(() => undefined, (e: unknown) => e)
    assert.strictEqual((error as { code?: string }).code, "ENOSPC")
    assert.deepStrictEqual(fs.readdirSync(dir), [])
  })

  /** Node's calls, recording what is done to each descriptor and how many writes are running. */
  const recording = (overrides: Partial<files.Io> = {}) => {
    const log: Array<string> = []
    let running = 0
    const base: files.Io = { ...files.nodeIo, ...overrides }
    const io: files.Io = {
      ...base,
      write: async (fd, buffer, offset, length, position) => {
        running++
        try {
          return await base.write(fd, buffer, offset, length, position)
        } finally {
          running--
          log.push(`write ${position}`)
        }
      },
      fdatasync: async (fd) => {
        await base.fdatasync(fd)
        log.push("fdatasync")
      },
      fsyncSync: (fd) => {
        base.fsyncSync(fd)
        log.push("fsync")
      },
      closeSync: (fd) => {
        // A write still running when its descriptor is closed could land in whatever file reuses the number.
        log.push(running === 0 ? "close" : `close while ${running} writes run`)
        base.closeSync(fd)
      }
    }
    return { io, log }
  }

  it("writeTempHashing with sync flushes the file once all of it is written, before answering it; without, never", async () => {
    const dir = tmpDir()
    const durable = recording()
    const { temp } = await files.writeTempHashing(durable.io, dir, data, true, () => false)
    assert.deepStrictEqual(new Uint8Array(fs.readFileSync(temp!)), data)
    const writes = durable.log.filter((op) => op.startsWith("write"))
    assert.strictEqual(writes.length, 3)
    // Every chunk written, then the flush that makes them and the size durable, then the close.
    assert.deepStrictEqual(durable.log.slice(writes.length), ["fdatasync", "close"])
    const fast = recording()
    await files.writeTempHashing(fast.io, dir, data, false, () => false)
    assert.deepStrictEqual(fast.log.filter((op) => !op.startsWith("write")), ["close"])
  })

  it("writeTempHashing that fails while other writes run closes the file only once they are done, and leaves nothing", async () => {
    const dir = tmpDir()
    let calls = 0
    // The other writes land a turn after the failure (no clock involved): the close must wait for them.
    let release!: () => void
    const afterTheFailure = new Promise<void>((resolve) => (release = resolve))
    const slowThenFull = recording({
      write: (fd, buffer, offset, length, position) => {
        if (++calls !== 2) return afterTheFailure.then(() => files.nodeIo.write(fd, buffer, offset, length, position))
        setImmediate(release)
        return Promise.reject(Object.assign(new Error("full"), { code: "ENOSPC" }))
      }
    })
    const error = await files.writeTempHashing(slowThenFull.io, dir, data, true, () => false).then(() => undefined, (e: unknown) => e)
    assert.strictEqual((error as { code?: string }).code, "ENOSPC")
    assert.strictEqual(slowThenFull.log.at(-1), "close")
    assert.deepStrictEqual(fs.readdirSync(dir), [])
    // A flush that fails is a failed write too.
    const flushFails = recording({ fdatasync: () => Promise.reject(Object.assign(new Error("io"), { code: "EIO" })) })
    const flushError = await files.writeTempHashing(flushFails.io, dir, data, true, () => false).then(() => undefined, (e: unknown) => e)
    assert.strictEqual((flushError as { code?: string }).code, "EIO")
    assert.deepStrictEqual(fs.readdirSync(dir), [])
  })

  it("writeTempHashing fails, rather than loops, on a file system that accepts no bytes", async () => {
    const dir = tmpDir()
    const stuck: files.Io = { ...files.nodeIo, write: () => Promise.resolve(0) }
    const error = await files.writeTempHashing(stuck, dir, data, false, () => false).then(() => undefined, (e: unknown) => e)
    assert.match(String(error), /accepted none/)
    assert.deepStrictEqual(fs.readdirSync(dir), [])
  })

  it("readLargeHashingIfExists answers the bytes and their SHA-256, undefined for a missing file", async () => {
    const dir = tmpDir()
    const read = await files.readLargeHashingIfExists(write(dir, "large", data))
    assert.deepStrictEqual(read?.bytes, data)
    assert.strictEqual(read?.sha256, sha(data))
    const empty = await files.readLargeHashingIfExists(write(dir, "empty", new Uint8Array(0)))
    assert.strictEqual(empty?.sha256, sha(new Uint8Array(0)))
    assert.strictEqual(await files.readLargeHashingIfExists(path.join(dir, "missing")), undefined)
  })

  it("listTemps finds the temp files of blobs written before their shard was known", () => {
    const dir = tmpDir()
    fs.mkdirSync(path.join(dir, "ab"))
    fs.writeFileSync(path.join(dir, "ab", ".tmp-x"), "")
    fs.writeFileSync(path.join(dir, ".tmp-blob-1-2-3"), "")
    assert.deepStrictEqual(files.listTemps(dir).map((t) => path.relative(dir, t.path)).sort(), [".tmp-blob-1-2-3", path.join("ab", ".tmp-x")])
  })
})
