/**
 * Canonical hashing: a SHA-256 digest of a value that depends only on its
 * content, never on how it happens to be laid out in memory.
 *
 * - object keys are sorted, so `{a, b}` and `{b, a}` hash alike;
 * - `-0` hashes as `0` and every `NaN` alike;
 * - `Map` and `Set` entries are sorted by their own digests;
 * - binary data (`Uint8Array`, every typed array, `DataView`, `ArrayBuffer`)
 *   is fed to SHA-256 as tagged raw bytes, never through JSON or base64, so a
 *   large array hashes at close to the speed of SHA-256 itself.
 *
 * The encoding is a string of tagged tokens; `JSON.stringify` is used only to
 * quote strings, which it does natively and fast. Everything that is not one
 * of the supported shapes (functions, symbols, class instances, cycles) is an
 * error that names where inside the value it was found.
 *
 * @since 0.1.0
 */
import { createHash, type Hash } from "node:crypto"

/**
 * Thrown (and turned into a typed error by callers) when a value has a part
 * that has no canonical encoding.
 *
 * @since 0.1.0
 */
export class UnhashableValueError extends Error {
  readonly path: ReadonlyArray<PropertyKey>
  readonly found: string
  constructor(path: ReadonlyArray<PropertyKey>, found: string) {
    super(`cannot hash ${found} at ${formatPath(path)}`)
    this.path = path
    this.found = found
  }
}

/**
 * Renders a path inside a value the way a user would write it: `.rows[3].id`.
 *
 * @since 0.1.0
 */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  if (path.length === 0) return "the top level"
  let out = ""
  for (const segment of path) {
    out += typeof segment === "number" ? `[${segment}]` : `.${String(segment)}`
  }
  return out
}

/** Flush the pending text to the hash once it grows past this many chars. */
const FLUSH_AT = 1 << 16

class Encoder {
  private text = ""
  readonly hash: Hash
  private readonly path: Array<PropertyKey>
  private readonly seen: Set<object>

  constructor(hash: Hash, path: Array<PropertyKey> = [], seen = new Set<object>()) {
    this.hash = hash
    this.path = path
    this.seen = seen
  }

  finish(): void {
    if (this.text.length > 0) this.hash.update(this.text)
    this.text = ""
  }

  private bytes(tag: string, view: ArrayBufferView | ArrayBuffer): void {
    const bytes = view instanceof ArrayBuffer
      ? new Uint8Array(view)
      : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    this.text += `${tag}:${bytes.byteLength};`
    this.hash.update(this.text)
    this.text = ""
    this.hash.update(bytes)
  }

  value(value: unknown): void {
    switch (typeof value) {
      case "string":
        this.text += "s" + JSON.stringify(value)
        break
      case "number":
        // `-0 + 0` is `0`; NaN has a single spelling.
        this.text += Number.isNaN(value) ? "nNaN;" : `n${value + 0};`
        break
      case "boolean":
        this.text += value ? "T" : "F"
        break
      case "undefined":
        this.text += "U"
        break
      case "bigint":
        this.text += `I${value};`
        break
      case "object":
        if (value === null) this.text += "N"
        else this.object(value)
        break
      default:
        throw new UnhashableValueError([...this.path], `a ${typeof value}`)
    }
    if (this.text.length > FLUSH_AT) {
      this.hash.update(this.text)
      this.text = ""
    }
  }

  private object(value: object): void {
    if (ArrayBuffer.isView(value)) return this.bytes(value.constructor.name, value)
    if (value instanceof ArrayBuffer) return this.bytes("ArrayBuffer", value)
    if (this.seen.has(value)) throw new UnhashableValueError([...this.path], "a circular reference")
    this.seen.add(value)
    if (Array.isArray(value)) {
      this.text += `[${value.length};`
      for (let i = 0; i < value.length; i++) {
        this.path.push(i)
        this.value(value[i])
        this.path.pop()
      }
      this.text += "]"
    } else if (value instanceof Date) {
      this.text += `D${value.getTime()};`
    } else if (value instanceof Map) {
      this.unordered("M", value.entries(), (entry) => entry)
    } else if (value instanceof Set) {
      this.unordered("S", value.values(), (entry) => [entry])
    } else {
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) {
        throw new UnhashableValueError([...this.path], `an instance of ${value.constructor?.name ?? "a class"}`)
      }
      const record = value as Record<string, unknown>
      const keys = Object.keys(record).sort()
      this.text += "{"
      for (const key of keys) {
        const field = record[key]
        // An absent key and a key holding `undefined` mean the same to a schema.
        if (field === undefined) continue
        this.text += JSON.stringify(key)
        this.path.push(key)
        this.value(field)
        this.path.pop()
      }
      this.text += "}"
    }
    this.seen.delete(value)
  }

  /** Map and Set: hash each entry on its own, then the sorted digests. */
  private unordered<A>(tag: string, entries: Iterable<A>, parts: (entry: A) => ReadonlyArray<unknown>): void {
    const digests: Array<string> = []
    for (const entry of entries) {
      const sub = new Encoder(createHash("sha256"), [...this.path, "<entry>"], this.seen)
      for (const part of parts(entry)) sub.value(part)
      sub.finish()
      digests.push(sub.hash.digest("hex"))
    }
    digests.sort()
    this.text += `${tag}${digests.length};${digests.join("")}`
  }
}

/**
 * Feeds the canonical encoding of `value` into an existing hash.
 *
 * @since 0.1.0
 */
export const update = (hash: Hash, value: unknown): Hash => {
  const encoder = new Encoder(hash)
  encoder.value(value)
  encoder.finish()
  return hash
}

/**
 * The canonical SHA-256 of a value, as 64 lowercase hex digits. Throws
 * `UnhashableValueError` for a value with no canonical encoding.
 *
 * @since 0.1.0
 */
export const digest = (value: unknown): string => update(createHash("sha256"), value).digest("hex")
