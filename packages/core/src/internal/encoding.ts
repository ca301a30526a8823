import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type * as SchemaJITCompiler from "effect/schema/SchemaJITCompiler"
import { createRequire } from "node:module"
import * as CanonicalHash from "../CanonicalHash.ts"
import { EncodeError } from "../EncodeError.ts"
import * as StoredValue from "../StoredValue.ts"
import { setOwn } from "./binary.ts"
import * as Issues from "./issues.ts"

const toEncodeError = (error: unknown, owner: string, what: string): EncodeError =>
  error instanceof CanonicalHash.UnhashableValueError
    ? new EncodeError({ owner, value: what, path: CanonicalHash.formatPath(error.path), reason: `found ${error.found}`, cause: error })
    : new EncodeError({ owner, value: what, path: "", reason: String(error), cause: error })

type Compiled = (input: unknown) => Exit.Exit<unknown, Schema.SchemaError>
interface Codec {
  run: Compiled
  uses: number
}
const encoders = new WeakMap<object, Codec>()
const decoders = new WeakMap<object, Codec>()
const generated = new WeakSet<SchemaAST.AST>()

/**
 * A schema's parser is generated as JavaScript by Effect's JIT compiler from
 * this use on: about ten times faster than the interpreter (the key path
 * encodes every input, 10,000 records in 0.5 ms instead of 5), but generating
 * it costs about 0.3 ms, ten first uses of the interpreter. A schema used once
 * or twice (each process of a cached CLI run) never pays for it.
 */
const JIT_FROM_USE = 3

/** Loaded at the first third use of a schema: a run that never gets there (a cached CLI run) never loads the compiler. */
let compiler: typeof SchemaJITCompiler | undefined

const generate = (ast: SchemaAST.AST): void => {
  if (generated.has(ast)) return
  generated.add(ast)
  ;(compiler ??= createRequire(import.meta.url)("effect/schema/SchemaJITCompiler") as typeof SchemaJITCompiler).enable(ast)
}

/**
 * Schema codecs made once per schema: the hot path of a hit calls them on
 * every step. From its `JIT_FROM_USE`th use a schema's codec is generated;
 * what the JIT compiler cannot compile it leaves to the interpreter, which
 * gives the same results and errors.
 */
const compiled = (cache: WeakMap<object, Codec>, schema: Schema.Top, make: () => Compiled): Compiled => {
  let codec = cache.get(schema)
  if (codec === undefined) cache.set(schema, codec = { run: make(), uses: 0 })
  if (++codec.uses === JIT_FROM_USE) {
    // Encoding decodes the flipped AST; for a schema without transformations it is the same one.
    generate(schema.ast)
    generate(SchemaAST.flip(schema.ast))
    codec.run = make()
  }
  return codec.run
}

/** Decodes with a schema, synchronously; the Exit is itself an Effect. */
export const decode = <A, I>(schema: Schema.Codec<A, I, never, never>, input: unknown): Exit.Exit<A, Schema.SchemaError> =>
  compiled(decoders, schema, () => Schema.decodeUnknownExit(schema) as Compiled)(input) as Exit.Exit<A, Schema.SchemaError>

/** Encodes `value` with `schema`, as a typed error naming the owner on failure. Synchronous: the Exit is itself an Effect. */
export const encode = <A, I>(
  schema: Schema.Codec<A, I, never, never>,
  value: A,
  owner: string,
  what: string
): Exit.Exit<I, EncodeError> => {
  const exit = compiled(encoders, schema, () => Schema.encodeUnknownExit(schema) as Compiled)(value) as Exit.Exit<I, Schema.SchemaError>
  if (Exit.isSuccess(exit)) return exit as unknown as Exit.Exit<I, never>
  const failure = Exit.findErrorOption(exit)
  if (failure._tag === "None") return exit as unknown as Exit.Exit<I, never>
  const error = failure.value
  // The first problem, as data: where it is and what was expected there.
  const first = Issues.leaves(error.issue)[0]
  return Exit.fail(
    new EncodeError({
      owner,
      value: what,
      path: CanonicalHash.formatPath(first?.path ?? []),
      reason: first?.message ?? String(error),
      cause: error
    })
  )
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype

/**
 * The canonical digest of a value and, when it is a record, of each field.
 * A record's digest is the digest of its field digests, so each byte of the
 * value is hashed once however it is split.
 */
export const digestParts = (
  value: unknown,
  owner: string,
  what: string
): Exit.Exit<{ readonly digest: string; readonly parts: Record<string, string> }, EncodeError> => {
  try {
    if (!isRecord(value)) return Exit.succeed({ digest: CanonicalHash.digest(value), parts: {} })
    const parts: Record<string, string> = {}
    for (const key of Object.keys(value)) {
      if (value[key] === undefined) continue
      try {
        parts[key] = CanonicalHash.digest(value[key])
      } catch (error) {
        throw error instanceof CanonicalHash.UnhashableValueError
          ? new CanonicalHash.UnhashableValueError({ path: [key, ...error.path], found: error.found })
          : error
      }
    }
    return Exit.succeed({ digest: CanonicalHash.digest(parts), parts })
  } catch (error) {
    return Exit.fail(toEncodeError(error, owner, what))
  }
}

/** Serializes an encoded value for storage, as a typed error naming the owner. */
export const serialize = (
  value: unknown,
  owner: string,
  what: string,
  digestOf?: (bytes: Uint8Array) => string
): Effect.Effect<StoredValue.Serialized, EncodeError> =>
  Effect.try({
    try: () => StoredValue.serialize(value, digestOf),
    catch: (error) => toEncodeError(error, owner, what)
  })

/** A monotonic reading in milliseconds with sub-millisecond precision, for durations. */
export const monotonicMs: Effect.Effect<number> = Effect.map(Clock.monotonicTimeNanos, (ns) => Number(ns) / 1e6)

/** `monotonicMs` read from a clock at hand (a fiber's `Clock`), for code that runs synchronously. */
export const monotonicMsOf = (clock: Clock.Clock): number => Number(clock.monotonicTimeNanosUnsafe()) / 1e6

/**
 * A JSON picture of an encoded value, for the `configValue` kept in recipes:
 * what `explain` shows, never read back as the value. Encoded values may
 * still hold what JSON cannot (a bigint, a Map, binary data).
 */
export const jsonPicture = (value: unknown): unknown => {
  switch (typeof value) {
    case "bigint":
      return `${value}n`
    case "number":
      return Number.isFinite(value) ? value : String(value)
    case "object": {
      if (value === null) return null
      if (Array.isArray(value)) return value.map(jsonPicture)
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
        return `<${value instanceof ArrayBuffer ? "ArrayBuffer" : value.constructor.name} of ${value.byteLength} bytes>`
      }
      if (value instanceof Date) return value.toISOString()
      if (value instanceof Map) return Array.from(value, ([k, v]) => [jsonPicture(k), jsonPicture(v)])
      if (value instanceof Set) return Array.from(value, jsonPicture)
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(value)) setOwn(out, key, jsonPicture((value as Record<string, unknown>)[key]))
      return out
    }
    default:
      return value
  }
}
