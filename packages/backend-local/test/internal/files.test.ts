import { assert, describe, it } from "@effect/vitest"
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
