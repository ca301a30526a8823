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
import { createHash, hash as hashOnce, type Hash } from "node:crypto"
import * as Schema from "effect/Schema"
import { viewTypeName } from "./internal/binary.ts"

/**
 * Thrown (and turned into a typed error by callers) when a value has a part
 * that has no canonical encoding.
 *
 * @since 0.1.0
 */
export class UnhashableValueError extends Schema.TaggedError<UnhashableValueError>()("UnhashableValueError", {
  /** Where inside the value: keys and indices. */
  path: Schema.Array(Schema.PropertyKey),
  /** What was there: `a function`, `a circular reference`, `an instance of Foo`. */
  found: Schema.String
}) {
  override get message(): string {
    return `cannot hash ${this.found} at ${formatPath(this.path)}`
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

/**
 * Flush the pending text to the hash once it grows past this many chars.
 * Small, because hashing a long string built by many `+=` first flattens the
 * rope it is made of, which costs more than the extra `update` calls.
 */
const FLUSH_AT = 2048

/**
 * Below this nesting depth objects are not checked for cycles: the check
 * costs a Set insertion per object, and a cycle always exceeds any depth.
 */
const UNCHECKED_DEPTH = 256

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * The hot path tracks no path and no visited set: on any unhashable part it
 * throws `Unhashable`, and `locate` walks the value again, slowly, to say
 * where.
 *
 * Strings are written length-prefixed, so they need no escaping. A string
 * with a lone surrogate cannot be written as UTF-8 (it would become U+FFFD),
 * so such strings are written through `JSON.stringify`, which escapes it.
 * Checking every string costs a call per string; instead each flushed chunk
 * is checked, and a value that turns out to hold one is encoded again in
 * `safe` mode, which checks every string. Both modes give the same encoding
 * to every well-formed string.
 */
class Unhashable extends Error {}

/** The key lists of an encoder that has seen no object yet: shared, since they are replaced, never changed. */
const NO_KEYS: ReadonlyArray<string> = []
class IllFormed extends Error {}

class Encoder {
  text = ""
  /** Created on the first flush: a small value is hashed in one call at the end. */
  private stream: Hash | undefined = undefined
  readonly safe: boolean
  /**
   * Records of one shape repeat: remember the last key list and its sorted
   * order, so that sorting costs a comparison of a few keys instead of a sort.
   */
  private lastKeys: ReadonlyArray<string> = NO_KEYS
  private lastSorted: ReadonlyArray<string> = NO_KEYS
  constructor(safe: boolean) {
    this.safe = safe
  }

  flush(): void {
    if (this.text.length === 0) return
    if (!this.safe && !this.text.isWellFormed()) throw new IllFormed()
    ;(this.stream ??= createHash("sha256")).update(this.text)
    this.text = ""
  }

  /** The hex digest of everything encoded. */
  digest(): string {
    if (this.stream === undefined) {
      if (!this.safe && !this.text.isWellFormed()) throw new IllFormed()
      return hashOnce("sha256", this.text, "hex")
    }
    this.flush()
    return this.stream.digest("hex")
  }

  bytes(tag: string, view: ArrayBufferView | ArrayBuffer): void {
    const bytes = view instanceof ArrayBuffer
      ? new Uint8Array(view)
      : new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
    this.text += `${tag}:${bytes.byteLength};`
    this.flush()
    this.stream!.update(bytes)
  }

  value(value: unknown, depth: number): void {
    switch (typeof value) {
      case "string":
        this.text += this.safe && !value.isWellFormed() ? `j${JSON.stringify(value)}` : `s${value.length}:${value}`
        break
      case "number":
        // `-0 + 0` is `0`; NaN has a single spelling.
        this.text += value === value ? `n${value + 0};` : "nNaN;"
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
        else this.object(value, depth + 1)
        break
      default:
        throw new Unhashable()
    }
  }

  object(value: object, depth: number): void {
    if (depth <= UNCHECKED_DEPTH) return this.encodeObject(value, depth)
    const seen = this.seen ??= new Set()
    if (seen.has(value)) throw new Unhashable()
    seen.add(value)
    this.encodeObject(value, depth)
    seen.delete(value)
  }

  encodeObject(value: object, depth: number): void {
    if (Array.isArray(value)) {
      const n = value.length
      this.text += `[${n};`
      for (let i = 0; i < n; i++) this.value(value[i], depth)
      this.text += "]"
      if (this.text.length > FLUSH_AT) this.flush()
    } else if (isPlainObject(value)) {
      const record = value as Record<string, unknown>
      const keys = this.sortedKeys(record)
      const keyTexts = this.lastKeyTexts
      this.text += "{"
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!
        const field = record[key]
        // An absent key and a key holding `undefined` mean the same to a schema.
        if (field === undefined) continue
        this.text += keyTexts[i]!
        this.value(field, depth)
      }
      this.text += "}"
      if (this.text.length > FLUSH_AT) this.flush()
    } else if (ArrayBuffer.isView(value)) {
      this.bytes(viewTypeName(value), value)
    } else if (value instanceof ArrayBuffer) {
      this.bytes("ArrayBuffer", value)
    } else if (value instanceof Date) {
      this.text += `D${value.getTime()};`
    } else if (value instanceof Map) {
      this.unordered("M", Array.from(value, (entry) => entry), depth)
    } else if (value instanceof Set) {
      this.unordered("S", Array.from(value, (entry) => [entry]), depth)
    } else {
      throw new Unhashable()
    }
  }

  /** The encoding of each key of `lastSorted`, reused with it. */
  private lastKeyTexts: ReadonlyArray<string> = NO_KEYS

  /** The keys of `record` in sorted order; their encodings are left in `lastKeyTexts`. */
  sortedKeys(record: object): ReadonlyArray<string> {
    const keys = Object.keys(record)
    const n = keys.length
    const last = this.lastKeys
    if (n === last.length) {
      let i = 0
      while (i < n && keys[i] === last[i]) i++
      if (i === n) return this.lastSorted
    }
    let sorted = true
    for (let i = 1; i < n && sorted; i++) sorted = keys[i - 1]! < keys[i]!
    this.lastKeys = keys
    this.lastSorted = sorted ? keys : keys.slice().sort()
    this.lastKeyTexts = this.lastSorted.map((key) =>
      this.safe && !key.isWellFormed() ? `K${JSON.stringify(key)}` : `k${key.length}:${key}`
    )
    return this.lastSorted
  }

  /** Objects deeper than `UNCHECKED_DEPTH` on the current path, to detect cycles; made when first needed. */
  private seen: Set<object> | undefined = undefined

  /** Map and Set: hash each entry on its own, then the sorted digests. */
  unordered(tag: string, entries: ReadonlyArray<ReadonlyArray<unknown>>, depth: number): void {
    const digests = entries.map((parts) => {
      const sub = new Encoder(this.safe)
      for (const part of parts) sub.value(part, depth)
      return sub.digest()
    })
    digests.sort()
    this.text += `${tag}${digests.length};${digests.join("")}`
  }
}

/** Finds where in `value` the first unhashable part is, for the error message. */
const locate = (value: unknown): UnhashableValueError => {
  const seen = new Set<object>()
  const walk = (v: unknown, path: Array<PropertyKey>): UnhashableValueError | undefined => {
    if (typeof v === "function" || typeof v === "symbol") return new UnhashableValueError({ path, found: `a ${typeof v}` })
    if (v === null || typeof v !== "object" || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date) return undefined
    if (seen.has(v)) return new UnhashableValueError({ path, found: "a circular reference" })
    seen.add(v)
    let found: UnhashableValueError | undefined
    if (Array.isArray(v)) v.some((e, i) => (found = walk(e, [...path, i])) !== undefined)
    else if (v instanceof Map) [...v].some(([k, e]) => (found = walk(k, [...path, "<entry>"]) ?? walk(e, [...path, "<entry>"])) !== undefined)
    else if (v instanceof Set) [...v].some((e) => (found = walk(e, [...path, "<entry>"])) !== undefined)
    else if (!isPlainObject(v)) found = new UnhashableValueError({ path, found: `an instance of ${v.constructor?.name ?? "a class"}` })
    else Object.keys(v).some((k) => (found = walk((v as Record<string, unknown>)[k], [...path, k])) !== undefined)
    seen.delete(v)
    return found
  }
  return walk(value, []) ?? new UnhashableValueError({ path: [], found: "an unhashable value" })
}

/**
 * The token of a value that is not an object (`null` is one), as it appears
 * in the encoding of any value holding it; `undefined` otherwise. For
 * callers that hash many values of one layout (`Recipe.keyer`).
 *
 * @internal
 */
export const primitive = (value: unknown): string | undefined => {
  switch (typeof value) {
    case "string":
      return `s${value.length}:${value}`
    case "number":
      return value === value ? `n${value + 0};` : "nNaN;"
    case "boolean":
      return value ? "T" : "F"
    case "undefined":
      return "U"
    case "bigint":
      return `I${value};`
    case "object":
      return value === null ? "N" : undefined
    default:
      return undefined
  }
}

/** Arrays up to this long whose elements are all primitives (a key recipe, a seed's identity) take `short`. */
const SHORT_ARRAY = 64

/**
 * The encoding of a primitive or of a short array of primitives, in one
 * `join`: such values are hashed on every step call, and a flat string built
 * at once hashes faster than the rope that `+=` builds. `undefined` for
 * anything else, which the encoder handles (and locates errors in).
 */
const short = (value: unknown): string | undefined => {
  if (!Array.isArray(value)) return primitive(value)
  const n = value.length
  if (n > SHORT_ARRAY) return undefined
  const texts = new Array<string>(n + 2)
  texts[0] = `[${n};`
  for (let i = 0; i < n; i++) {
    const text = primitive(value[i])
    if (text === undefined) return undefined
    texts[i + 1] = text
  }
  texts[n + 1] = "]"
  return texts.join("")
}

const encode = (value: unknown, safe: boolean): string => {
  const encoder = new Encoder(safe)
  encoder.value(value, 0)
  return encoder.digest()
}

/**
 * The canonical SHA-256 of a value, as 64 lowercase hex digits. Throws
 * `UnhashableValueError` for a value with no canonical encoding.
 *
 * @since 0.1.0
 */
export const digest = (value: unknown): string => {
  const text = short(value)
  // A lone surrogate needs the safe mode's spelling: the encoder's business.
  if (text !== undefined && text.isWellFormed()) return hashOnce("sha256", text, "hex")
  try {
    try {
      return encode(value, false)
    } catch (error) {
      if (error instanceof IllFormed) return encode(value, true)
      throw error
    }
  } catch (error) {
    if (error instanceof Unhashable) throw locate(value)
    if (error instanceof RangeError) throw new UnhashableValueError({ path: [], found: "a value nested too deeply" })
    throw error
  }
}
