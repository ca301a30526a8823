/**
 * How a schema-encoded value is written into a manifest: JSON, with every
 * value JSON cannot carry (binary data, `bigint`, `Date`, `Map`, `Set`,
 * `undefined`, non-finite numbers, `-0`) written as a tagged object, and large
 * binary parts moved out into content-addressed blobs.
 *
 * A tagged object is `{ "$x": tag, ... }`; a user object that happens to
 * have a `$x` key is itself wrapped (`{ "$x": "obj", "v": ... }`), so decoding
 * is never ambiguous.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Schema from "effect/Schema"
import { UnhashableValueError } from "./CanonicalHash.ts"
import { setOwn, VIEW_TYPES, viewTypeName } from "./internal/binary.ts"

/**
 * Binary parts at least this large go to blobs; smaller ones stay inline
 * (base64) so a small output costs a single read.
 *
 * @since 0.1.0
 */
export const BLOB_THRESHOLD = 4096

/**
 * @since 0.1.0
 */
export interface Blob {
  readonly digest: string
  readonly bytes: Uint8Array
}

/**
 * @since 0.1.0
 */
export interface Serialized {
  readonly json: unknown
  readonly blobs: ReadonlyArray<Blob>
}

const bytesOf = (view: ArrayBufferView | ArrayBuffer): Uint8Array =>
  view instanceof ArrayBuffer ? new Uint8Array(view) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/**
 * Serializes an encoded value. Throws `UnhashableValueError` (with the path)
 * for a part that has no stored form: a function, a symbol, a class instance.
 *
 * `digestOf` names each blob (its SHA-256 by default). The value is walked in
 * the same order every time, so a caller may serialize once to collect the
 * blobs' bytes and again with the digests it computed meanwhile.
 *
 * @since 0.1.0
 */
export const serialize = (value: unknown, digestOf: (bytes: Uint8Array) => string = sha256): Serialized => {
  const blobs: Array<Blob> = []
  const path: Array<PropertyKey> = []
  const go = (v: unknown): unknown => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return v
      case "number":
        return Number.isFinite(v) && !Object.is(v, -0) ? v : { $x: "num", v: String(Object.is(v, -0) ? "-0" : v) }
      case "undefined":
        return { $x: "undef" }
      case "bigint":
        return { $x: "bigint", v: v.toString() }
      case "object": {
        if (v === null) return null
        if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
          const type = v instanceof ArrayBuffer ? "ArrayBuffer" : viewTypeName(v)
          const bytes = bytesOf(v)
          if (bytes.byteLength < BLOB_THRESHOLD) {
            return { $x: "bin", t: type, b64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") }
          }
          const digest = digestOf(bytes)
          blobs.push({ digest, bytes })
          return { $x: "bin", t: type, ref: digest, n: bytes.byteLength }
        }
        if (Array.isArray(v)) {
          const out = new Array(v.length)
          for (let i = 0; i < v.length; i++) {
            path.push(i)
            out[i] = go(v[i])
            path.pop()
          }
          return out
        }
        if (v instanceof Date) return { $x: "date", v: v.getTime() }
        if (v instanceof Map) {
          path.push("<entry>")
          const entries = Array.from(v, ([k, e]) => [go(k), go(e)])
          path.pop()
          return { $x: "map", v: entries }
        }
        if (v instanceof Set) {
          path.push("<entry>")
          const entries = Array.from(v, go)
          path.pop()
          return { $x: "set", v: entries }
        }
        const proto = Object.getPrototypeOf(v)
        if (proto !== Object.prototype && proto !== null) {
          throw new UnhashableValueError({ path: [...path], found: `an instance of ${(v as object).constructor?.name ?? "a class"}` })
        }
        const out: Record<string, unknown> = {}
        for (const key of Object.keys(v)) {
          path.push(key)
          setOwn(out, key, go((v as Record<string, unknown>)[key]))
          path.pop()
        }
        return "$x" in out ? { $x: "obj", v: out } : out
      }
      default:
        throw new UnhashableValueError({ path: [...path], found: `a ${typeof v}` })
    }
  }
  const json = go(value)
  return { json, blobs }
}

/**
 * Thrown when a stored value is not in the format `serialize` writes.
 *
 * @since 0.1.0
 */
export class MalformedValueError extends Schema.TaggedError<MalformedValueError>()("MalformedValueError", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason
  }
}

const toBinary = (type: string, bytes: Uint8Array): unknown => {
  if (type === "ArrayBuffer") return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  const Ctor = VIEW_TYPES.get(type)
  if (Ctor === undefined) throw new MalformedValueError({ reason: `unknown binary type ${type}` })
  const width = Ctor.BYTES_PER_ELEMENT ?? 1
  if (bytes.byteLength % width !== 0) throw new MalformedValueError({ reason: `${type} of ${bytes.byteLength} bytes` })
  // A view over the bytes read, without a copy, when they are aligned.
  const aligned = bytes.byteOffset % width === 0 ? bytes : bytes.slice()
  return new Ctor(aligned.buffer, aligned.byteOffset, type === "DataView" ? aligned.byteLength : aligned.byteLength / width)
}

/**
 * Rebuilds a value from its stored form. `blob` returns the verified bytes of
 * a referenced blob.
 *
 * @since 0.1.0
 */
export const deserialize = (json: unknown, blob: (digest: string) => Uint8Array): unknown => {
  const go = (v: unknown): unknown => {
    if (v === null || typeof v !== "object") return v
    if (Array.isArray(v)) return v.map(go)
    const record = v as Record<string, unknown>
    switch (record.$x) {
      case undefined: {
        const out: Record<string, unknown> = {}
        for (const key of Object.keys(record)) setOwn(out, key, go(record[key]))
        return out
      }
      case "obj": {
        const inner = record.v as Record<string, unknown>
        const out: Record<string, unknown> = {}
        for (const key of Object.keys(inner)) setOwn(out, key, go(inner[key]))
        return out
      }
      case "num":
        return Number(record.v)
      case "undef":
        return undefined
      case "bigint":
        return BigInt(record.v as string)
      case "date":
        return new Date(record.v as number)
      case "map":
        return new Map((record.v as Array<[unknown, unknown]>).map(([k, e]) => [go(k), go(e)]))
      case "set":
        return new Set((record.v as Array<unknown>).map(go))
      case "bin": {
        const bytes = typeof record.b64 === "string"
          ? new Uint8Array(Buffer.from(record.b64, "base64"))
          : blob(record.ref as string)
        return toBinary(record.t as string, bytes)
      }
      default:
        throw new MalformedValueError({ reason: `unknown tag ${String(record.$x)}` })
    }
  }
  return go(json)
}
