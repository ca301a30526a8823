/**
 * CRC32C (Castagnoli), as Cloud Storage reports it: the checksum as 4 bytes,
 * big-endian, base64-encoded. Slicing-by-8, about 2.5 times the speed of the
 * client's byte-at-a-time table: the client validates every transfer with
 * it (see `validator`), and the fake server checksums what it stores.
 * Tests check it against a bitwise reference and against the client's own.
 */
const TABLES: ReadonlyArray<Uint32Array> = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256))
  const t0 = tables[0]!
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    t0[n] = c >>> 0
  }
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1]!
    const t = tables[k]!
    for (let n = 0; n < 256; n++) t[n] = ((prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!) >>> 0
  }
  return tables
})()

/** Extends `crc` (the checksum of the bytes so far; 0 for none) with `data`. */
export const update = (crc: number, data: Uint8Array): number => {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array]
  let c = ~crc >>> 0
  let i = 0
  const end8 = data.length - (data.length % 8)
  while (i < end8) {
    c ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    c = t7[c & 0xff]! ^ t6[(c >>> 8) & 0xff]! ^ t5[(c >>> 16) & 0xff]! ^ t4[c >>> 24]! ^
      t3[data[i + 4]!]! ^ t2[data[i + 5]!]! ^ t1[data[i + 6]!]! ^ t0[data[i + 7]!]!
    i += 8
  }
  while (i < data.length) c = t0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

/** The checksum of `data` as a number. */
export const checksum = (data: Uint8Array): number => update(0, data)

/** The form GCS uses in `crc32c` fields and `x-goog-hash` headers. */
export const toBase64 = (crc: number): string => {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(crc >>> 0)
  return out.toString("base64")
}

/** A `crc32cGenerator` for the client: the same interface as its own `CRC32C`. */
export const validator = () => {
  let crc = 0
  return {
    update: (data: Uint8Array) => {
      crc = update(crc, data)
    },
    toString: () => toBase64(crc),
    validate: (value: string) => value === toBase64(crc)
  }
}
