/**
 * Damage to stored manifests that the cheap checks of a hit cannot see, for
 * tests that prove the later checks do.
 *
 * @since 0.1.0
 */
import { crc32 } from "node:zlib"

/**
 * Sets the 4 bytes at `at` so that the CRC-32 of `bytes` becomes `target`.
 * The CRC is affine over GF(2): the patch solves 32 linear equations.
 */
const forceCrc32 = (bytes: Uint8Array, at: number, target: number): Uint8Array => {
  const out = new Uint8Array(bytes)
  out.fill(0, at, at + 4)
  const zeros = crc32(new Uint8Array(bytes.byteLength))
  // The effect of each bit of the patch on the CRC, with the patch bit it stands for.
  const rows: Array<[number, number]> = Array.from({ length: 32 }, (_, bit) => {
    const delta = new Uint8Array(bytes.byteLength)
    delta[at + (bit >> 3)] = 1 << (bit & 7)
    return [(crc32(delta) ^ zeros) >>> 0, 2 ** bit]
  })
  // Gauss-Jordan elimination: row `r` ends with the single CRC bit `31 - r`.
  for (let r = 0; r < 32; r++) {
    const bit = 31 - r
    const pivot = rows.findIndex(([v], i) => i >= r && ((v >>> bit) & 1) === 1)
    if (pivot === -1) throw new Error("the CRC-32 cannot be forced at this offset")
    ;[rows[r], rows[pivot]] = [rows[pivot]!, rows[r]!]
    const [pv, pp] = rows[r]!
    for (let i = 0; i < 32; i++) {
      if (i !== r && ((rows[i]![0] >>> bit) & 1) === 1) rows[i] = [(rows[i]![0] ^ pv) >>> 0, (rows[i]![1] ^ pp) >>> 0]
    }
  }
  let want = (crc32(out) ^ target) >>> 0
  let patch = 0
  for (let r = 0; r < 32; r++) {
    if (((want >>> (31 - r)) & 1) === 1) {
      patch = (patch ^ rows[r]![1]) >>> 0
      want = (want ^ rows[r]![0]) >>> 0
    }
  }
  for (let i = 0; i < 4; i++) out[at + i] = (patch >>> (8 * i)) & 0xff
  if (crc32(out) !== target) throw new Error("forcing the CRC-32 failed")
  return out
}

/**
 * A stored manifest (as `Manifest.encode` writes it) whose recipe line is
 * damaged (a flipped bit, and 4 bytes rewritten) with its length and CRC-32
 * unchanged: only the recipe's SHA-256 can tell.
 *
 * @since 0.1.0
 */
export const recipeBehindCrc = (stored: Uint8Array): Uint8Array => {
  const start = Buffer.prototype.indexOf.call(stored, 0x0a, 65) + 1
  if (start === 0 || stored.byteLength - start < 16) throw new Error("not a manifest with a recipe line")
  // Copies made with `new Uint8Array`: a Buffer's `slice` is a view.
  const recipe = stored.subarray(start)
  const flipped = new Uint8Array(recipe)
  flipped[2]! ^= 1
  const out = new Uint8Array(stored)
  out.set(forceCrc32(flipped, 8, crc32(recipe)), start)
  return out
}
