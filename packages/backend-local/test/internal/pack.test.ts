import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { Pack, PackFormatError, writeTo } from "../../src/internal/pack.ts"
import { tmpDir } from "../fixtures/tmp.ts"

const keyOf = (i: number) => (i * 2654435761 >>> 0).toString(16).padStart(64, "0")

/** Record i's bytes; the first is a hex digit, as a stored manifest's (a deleted record's is "-"). */
const bytesOf = (i: number, size: number) => Uint8Array.from({ length: size }, (_, j) => (j === 0 ? 0x30 : (i * 31 + j) % 251))

const write = (fd: number, bytes: Uint8Array, position: number) => {
  let written = 0
  while (written < bytes.byteLength) written += fs.writeSync(fd, bytes, written, bytes.byteLength - written, position + written)
}

/** Writes a pack of `sizes.length` records, record i of `sizes[i]` bytes, and opens it. */
const packOf = (sizes: ReadonlyArray<number>) => {
  const file = path.join(tmpDir(), "test.pack")
  const fd = fs.openSync(file, "w")
  writeTo(fd, sizes.map((size, i) => ({ key: keyOf(i), length: size, bytes: () => bytesOf(i, size) })), write)
  fs.closeSync(fd)
  return { file, pack: Pack.open(file, (f) => fs.openSync(f, "r")) }
}

describe("pack", () => {
  it("finds every record by its key and reads it back as written, whatever its size", () => {
    // Small records gathered into chunked writes, one larger than a chunk, and an empty one.
    const sizes = [...Array.from({ length: 3000 }, (_, i) => 100 + (i % 900)), 1_500_000, 0, 20_000]
    const { pack } = packOf(sizes)
    const scratch = new Uint8Array(16 * 1024)
    try {
      assert.strictEqual(pack.count, sizes.length)
      sizes.forEach((size, i) => {
        const slot = pack.find(Buffer.from(keyOf(i), "hex"))
        assert.isAtLeast(slot, 0, `record ${i}`)
        assert.strictEqual(pack.keyOf(slot), keyOf(i))
        assert.deepStrictEqual(Buffer.from(pack.read(slot, scratch)!), Buffer.from(bytesOf(i, size)), `record ${i}`)
      })
      assert.strictEqual(pack.find(Buffer.from("f".repeat(64), "hex")), -1)
    } finally {
      pack.close()
    }
  })

  it("a deleted record reads as none, through a descriptor opened before the deletion", () => {
    const { file, pack } = packOf([10, 20, 30])
    const scratch = new Uint8Array(64)
    try {
      const slot = pack.find(Buffer.from(keyOf(1), "hex"))
      pack.kill([slot], (f) => fs.openSync(f, "r+"), write, false)
      assert.isUndefined(pack.read(slot, scratch))
      assert.isFalse(pack.isLive(slot, scratch))
      assert.isTrue(pack.isLive(pack.find(Buffer.from(keyOf(2), "hex")), scratch))
      assert.strictEqual(fs.statSync(file).size, pack.size, "deleting writes in place")
    } finally {
      pack.close()
    }
  })

  it("refuses a file whose table was changed, or that was cut short", () => {
    const { file, pack } = packOf([10, 20, 30])
    pack.close()
    const bytes = fs.readFileSync(file)
    const flipped = Buffer.from(bytes)
    flipped[16 + 44 + 33]! ^= 0x01 // the second slot's offset
    fs.writeFileSync(file, flipped)
    assert.throws(() => Pack.open(file, (f) => fs.openSync(f, "r")), PackFormatError, /its table does not match its checksum/)
    fs.writeFileSync(file, bytes.subarray(0, bytes.byteLength - 5))
    assert.throws(() => Pack.open(file, (f) => fs.openSync(f, "r")), PackFormatError, /truncated/)
    fs.writeFileSync(file, "not a pack")
    assert.throws(() => Pack.open(file, (f) => fs.openSync(f, "r")), PackFormatError, /no pack header/)
  })
})
