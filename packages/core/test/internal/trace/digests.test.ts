/**
 * File digests by signature, and how they travel from one run to the next
 * (`keep`, `restore`): a kept digest is used while its file's size, mtime,
 * ctime and inode are the ones it was kept with, and never otherwise.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as Path from "node:path"
import * as v8 from "node:v8"
import { afterAll, afterEach, assert, describe, it, vi } from "@effect/vitest"
import { Effect } from "effect"
import * as Digests from "../../../src/internal/trace/digests.ts"
import * as DataFile from "../../../src/DataFile.ts"

const root = fs.mkdtempSync(Path.join(os.tmpdir(), "expops-digests-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
afterEach(() => {
  vi.useRealTimers()
  Digests.clear()
})

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")
let n = 0
const write = (text: string) => {
  const file = Path.join(root, `f${n++}.txt`)
  fs.writeFileSync(file, text)
  return file
}
/** Moves the clock past the "racily clean" window, as if the file had been written long before it was hashed. */
const later = () => {
  vi.useFakeTimers({ toFake: ["Date"] })
  vi.setSystemTime(Date.now() + 10_000)
}
/** The kept digests of `file`, as `keep` wrote them. */
const kept = (file: string): Map<string, string> =>
  new Map((v8.deserialize(fs.readFileSync(file)) as [string, Array<Array<unknown>>])[1].map((row) => [row[0] as string, row[5] as string]))

describe("file digests", () => {
  it("kept by one run, used by the next while the file is unchanged", () => {
    const file = write("aaaa")
    later()
    assert.strictEqual(Digests.digestSync(file), sha256("aaaa"))
    const store = Path.join(root, "kept-1.bin")
    Digests.keep(store)
    assert.strictEqual(kept(store).get(file), sha256("aaaa"))

    // The next run: nothing known, then what was kept.
    Digests.clear()
    Digests.restore(store)
    // Trusted by signature: rewrite the kept digest to tell whether it is used or recomputed.
    const rows = (v8.deserialize(fs.readFileSync(store)) as [string, Array<Array<unknown>>])
    rows[1] = rows[1].map((row) => (row[0] === file ? [...row.slice(0, 5), "kept"] : row))
    fs.writeFileSync(store, v8.serialize(rows))
    Digests.clear()
    Digests.restore(store)
    assert.strictEqual(Digests.digestSync(file), "kept")
    // Nothing learnt since: the store is not written again.
    const written = fs.statSync(store, { bigint: true }).mtimeNs
    Digests.keep(store)
    assert.strictEqual(fs.statSync(store, { bigint: true }).mtimeNs, written)
  })

  it("a kept digest is not used once the file changed, even with its size and mtime put back", () => {
    const file = write("aaaa")
    // A whole millisecond, so that `utimes` can put back exactly the same mtime.
    const when = new Date(Date.now() - 60_000)
    fs.utimesSync(file, when, when)
    later()
    Digests.digestSync(file)
    const store = Path.join(root, "kept-2.bin")
    Digests.keep(store)
    assert.strictEqual(kept(store).get(file), sha256("aaaa"))
    // Same size, same inode, the same mtime to the nanosecond (as `cp -p` or `touch -d` leave it): only the ctime moved.
    fs.writeFileSync(file, "bbbb")
    fs.utimesSync(file, when, when)
    Digests.clear()
    Digests.restore(store)
    assert.strictEqual(Digests.digestSync(file), sha256("bbbb"))
  })

  it("a file changed within the last two seconds is hashed each time, not remembered", () => {
    const file = write("aaaa")
    assert.strictEqual(Digests.digestSync(file), sha256("aaaa"))
    const store = Path.join(root, "kept-3.bin")
    Digests.keep(store)
    // Nothing to keep: nothing written.
    assert.isFalse(fs.existsSync(store))
  })

  it("a missing or damaged store adds nothing, and is replaced by the next keep", () => {
    const file = write("aaaa")
    const store = Path.join(root, "kept-4.bin")
    Digests.restore(store)
    fs.writeFileSync(store, "not v8")
    Digests.restore(store)
    fs.writeFileSync(store, v8.serialize(["another/format", [[file, 4n, 0n, 0n, 0n, "x"]]]))
    Digests.restore(store)
    later()
    assert.strictEqual(Digests.digestSync(file), sha256("aaaa"))
    Digests.keep(store)
    assert.strictEqual(kept(store).get(file), sha256("aaaa"))
  })
})

describe("DataFile.digest", () => {
  it.effect("the SHA-256 of the file; a missing path and a folder are errors that say which", () =>
    Effect.gen(function*() {
      const file = write("x,y\n1,2\n")
      assert.strictEqual(yield* DataFile.digest(file), sha256("x,y\n1,2\n"))
      const missing = yield* Effect.flip(DataFile.digest(Path.join(root, "nope.csv")))
      assert.strictEqual(missing.reason, "no such file")
      const folder = yield* Effect.flip(DataFile.digest(root))
      assert.strictEqual(folder.reason, "not a file")
    }))

  it.effect("a large data file is streamed, and its digest remembered by signature", () =>
    Effect.gen(function*() {
      const big = "0123456789abcdef".repeat(600_000) // 9.6 MB: above the one-read limit
      const file = write(big)
      later()
      assert.strictEqual(yield* DataFile.digest(file), sha256(big))
      assert.strictEqual(Digests.digestSync(file), sha256(big))
    }))
})
