/**
 * Fan-out: seed and data parallelism.
 *
 * A process may open a **layer**: with seed parallelism every process
 * downstream of it runs once per seed, with that seed as its root seed; with
 * data parallelism one of its outputs is split into partitions (row-wise) and
 * every process downstream runs once per partition, receiving its partition
 * in place of the whole output. Layers nest (data then seed, or the reverse,
 * at most one of each kind open at a time). An **aggregation** process
 * collapses the innermost open layer (or the innermost two, one of each
 * kind): it runs once and receives each output of the branches as a record
 * keyed by branch, `seed41`, `data2`, nested data-then-seed when it
 * collapses both.
 *
 * ```yaml
 *       processes:
 *         - name: prepare
 *           seed_parallelism: { seeds: [41, 42, 43] }
 *         - name: summarise
 *           seed_parallelism: { aggregation: true }
 * ```
 *
 * The same in code, typed:
 *
 * ```ts
 * Pipeline.make({
 *   name: "iris",
 *   processes: [loadData, prepare, trainModel, evaluate, summarise],
 *   fanout: [Fanout.seeds(prepare, [41, 42, 43]), Fanout.aggregate(summarise, "seed")]
 * })
 *
 * const summarise = Process.make({
 *   name: "summarise",
 *   inputs: { accuracy: Fanout.bySeed(Schema.Finite) },   // { seed41: 0.9, seed42: 0.93, ... }
 *   ...
 * })
 * ```
 *
 * The expansion is static: `Pipeline.plan` turns every duplicated process
 * into one process per branch, named after its branch (`train_model_seed41`,
 * `train_model_data2`, `train_model_data2_seed41`), before anything runs. A
 * branch is cached like any process: a seed branch's keys follow its seed (it
 * is its root seed), a data branch's follow its partition's content (not the
 * data file's digest), so adding a seed runs only the new branch and an edit
 * inside one partition re-runs only that partition's branches and the
 * aggregation.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type * as Process from "./Process.ts"

/**
 * The two kinds of layer.
 *
 * @since 0.1.0
 */
export type Kind = "seed" | "data"

/**
 * A process's seed parallelism, as `seed_parallelism` in the config.
 *
 * @since 0.1.0
 */
export interface SeedSetting {
  /** Opens a seed layer: everything downstream runs once per seed. */
  readonly seeds?: number | ReadonlyArray<number> | undefined
  /** Collapses the innermost open seed layer. */
  readonly aggregation?: boolean | undefined
  /** Where this was written (`configs/project_config.yaml:27`), for messages. */
  readonly at?: string | undefined
}

/**
 * A process's data parallelism, as `data_parallelism` in the config.
 *
 * @since 0.1.0
 */
export interface DataSetting {
  /** Opens a data layer: a number of equal partitions, or the row count of each. */
  readonly size?: number | ReadonlyArray<number> | undefined
  /** The output to split (default: the process's only array-like output). */
  readonly dataName?: string | undefined
  /** Collapses the innermost open data layer. */
  readonly aggregation?: boolean | undefined
  /** Where this was written (`configs/project_config.yaml:27`), for messages. */
  readonly at?: string | undefined
}

/**
 * What one process declares.
 *
 * @since 0.1.0
 */
export interface Settings {
  readonly seed?: SeedSetting | undefined
  readonly data?: DataSetting | undefined
}

/**
 * A fan-out declared in code, for `Pipeline.make({ fanout: [...] })`.
 *
 * @since 0.1.0
 */
export interface Declaration {
  readonly process: string
  readonly settings: Settings
}

/**
 * Every typed array: split element by element, as rows.
 *
 * @since 0.1.0
 */
export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array

type OutputsOf<P> = P extends { readonly outputs: { readonly Type: infer T } } ? T : never

/**
 * The outputs of a process that can be split into partitions: arrays and
 * typed arrays.
 *
 * @since 0.1.0
 */
export type SplittableOutput<P> = {
  [K in keyof OutputsOf<P>]-?: NonNullable<OutputsOf<P>[K]> extends ReadonlyArray<unknown> | TypedArray ? K : never
}[keyof OutputsOf<P>] & string

/**
 * Seed parallelism on `process`: everything downstream of it, up to an
 * aggregation, runs once per seed, with that seed as its root seed.
 *
 * @since 0.1.0
 */
export const seeds = (process: Process.Any, seeds: number | ReadonlyArray<number>): Declaration => ({
  process: process.name,
  settings: { seed: { seeds } }
})

/**
 * Data parallelism on `process`: its output `dataName` (default: its only
 * array-like output) is split row-wise into `size` equal partitions, or
 * partitions of the given row counts, and everything downstream of it, up to
 * an aggregation, runs once per partition.
 *
 * @since 0.1.0
 */
export const partitions = <P extends Process.Any>(
  process: P,
  options: { readonly size: number | ReadonlyArray<number>; readonly dataName?: SplittableOutput<P> | undefined }
): Declaration => ({
  process: process.name,
  settings: { data: { size: options.size, ...(options.dataName !== undefined ? { dataName: options.dataName } : {}) } }
})

/**
 * Makes `process` an aggregation: it collapses the innermost open layer of
 * that kind (with both kinds, the innermost two), and receives each output of
 * the branches as a record keyed by branch (see `bySeed`, `byData`).
 *
 * @since 0.1.0
 */
export const aggregate = (process: Process.Any, ...kinds: readonly [Kind, ...Array<Kind>]): Declaration => ({
  process: process.name,
  settings: {
    ...(kinds.includes("seed") ? { seed: { aggregation: true } } : {}),
    ...(kinds.includes("data") ? { data: { aggregation: true } } : {})
  }
})

/**
 * The key of a seed branch in an aggregation's record: `seed41`.
 *
 * @since 0.1.0
 */
export const SeedKey = Schema.TemplateLiteral(["seed", Schema.Int])

/**
 * The key of a data branch in an aggregation's record: `data1`, `data2`, ...
 *
 * @since 0.1.0
 */
export const DataKey = Schema.TemplateLiteral(["data", Schema.Int])

/**
 * The schema of an aggregation's input from seed branches: a record keyed
 * `seed41`, `seed42`, ... of what each branch produced.
 *
 * @since 0.1.0
 */
export const bySeed = <S extends Schema.Top>(value: S): Schema.$Record<typeof SeedKey, S> => Schema.Record(SeedKey, value)

/**
 * The schema of an aggregation's input from data branches: a record keyed
 * `data1`, `data2`, ... of what each branch produced. Collapsing both layers,
 * `byData(bySeed(Model))`.
 *
 * @since 0.1.0
 */
export const byData = <S extends Schema.Top>(value: S): Schema.$Record<typeof DataKey, S> => Schema.Record(DataKey, value)

/**
 * The label of a branch: `seed41`, `data2`.
 *
 * @since 0.1.0
 */
export const label = (kind: Kind, value: number): string => `${kind}${value}`

/**
 * The values of an aggregation's record in branch order (`seed1` before
 * `seed2` before `seed10`; `data1` before `data2`), whatever order its keys
 * are in: sums and means then come out the same to the last bit on every
 * run.
 *
 * @since 0.1.0
 */
export const values = <A>(record: Readonly<Record<string, A>>): Array<A> =>
  Object.keys(record)
    .sort((a, b) => branchNumber(a) - branchNumber(b) || (a < b ? -1 : a > b ? 1 : 0))
    .map((k) => record[k]!)

const branchNumber = (key: string): number => Number(key.replace(/^(seed|data)/, ""))

// -----------------------------------------------------------------------------
// Splitting
// -----------------------------------------------------------------------------

const isTypedArray = (u: unknown): u is TypedArray => ArrayBuffer.isView(u) && !(u instanceof DataView)

/**
 * What a value is, in a message about splitting it.
 *
 * @internal
 */
export const describeValue = (u: unknown): string => {
  if (u === null) return "null"
  if (Array.isArray(u)) return "an array"
  if (isTypedArray(u)) return `a ${u.constructor.name}`
  if (typeof u === "object") return `an object (${u.constructor?.name ?? "Object"})`
  return `a ${typeof u}`
}

/**
 * The row count of each partition: `size` itself when it is a list, else
 * `size` partitions as equal as they can be (the first ones one row longer
 * when the rows do not divide evenly). Fails with the reason, naming the
 * counts.
 *
 * @since 0.1.0
 */
export const partitionSizes = (rows: number, size: number | ReadonlyArray<number>): Result.Result<ReadonlyArray<number>, string> => {
  if (typeof size !== "number") {
    const total = size.reduce((a, b) => a + b, 0)
    return total === rows
      ? Result.succeed(size)
      : Result.fail(`size [${size.join(", ")}] adds up to ${total} rows, but there are ${rows}`)
  }
  if (rows < size) return Result.fail(`cannot split ${rows} rows into ${size} partitions: each needs a row at least`)
  const each = Math.floor(rows / size)
  return Result.succeed(Array.from({ length: size }, (_, i) => each + (i < rows % size ? 1 : 0)))
}

/**
 * Splits an array or a typed array row-wise into consecutive partitions of
 * the sizes `partitionSizes` gives. Each partition is a copy (a typed array
 * gets its own buffer), so its content, and nothing beside it, is what its
 * branch's keys hash.
 *
 * @since 0.1.0
 */
export const split = (value: unknown, size: number | ReadonlyArray<number>): Result.Result<ReadonlyArray<unknown>, string> => {
  if (!Array.isArray(value) && !isTypedArray(value)) {
    return Result.fail(`it is ${describeValue(value)}, which cannot be split into rows (arrays and typed arrays can)`)
  }
  const rows = value.length
  return Result.map(partitionSizes(rows, size), (sizes) => {
    const parts: Array<unknown> = []
    let start = 0
    for (const n of sizes) {
      parts.push(value.slice(start, start + n))
      start += n
    }
    return parts
  })
}

const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array
]

/**
 * Whether values of a schema can be split: arrays (and tuples with a rest
 * element) and typed arrays. `undefined` when the schema alone cannot tell
 * (a declaration that accepts no typed array may still accept something
 * else that is one); the value is checked when it is split.
 *
 * @internal
 */
export const splittable = (schema: Schema.Top): { readonly ok: boolean; readonly type: string } => {
  const ast = SchemaAST.toType(schema.ast)
  switch (ast._tag) {
    case "Arrays":
      return { ok: true, type: "an array" }
    case "Declaration": {
      const is = Schema.is(Schema.make(ast) as Schema.Top)
      const accepted = TYPED_ARRAYS.find((C) => is(new C(0)))
      const named = ast.annotations?.expected ?? ast.annotations?.identifier
      return accepted !== undefined
        ? { ok: true, type: `a ${accepted.name}` }
        : { ok: false, type: typeof named === "string" ? `a ${named}` : "a class instance" }
    }
    case "Union": {
      // An optional output may be absent: what matters is what it is when present.
      const members = ast.types.filter((t) => t._tag !== "Undefined").map((t) => splittable(Schema.make(t) as Schema.Top))
      return { ok: members.length > 0 && members.every((m) => m.ok), type: members.map((m) => m.type).join(" or ") }
    }
    case "Objects":
      return { ok: false, type: ast.indexSignatures.length > 0 ? "a record" : "a struct" }
    default:
      return { ok: false, type: TYPE_NAMES[ast._tag] ?? `a ${ast._tag.toLowerCase()}` }
  }
}

const TYPE_NAMES: Record<string, string> = {
  String: "a string",
  Number: "a number",
  Boolean: "a boolean",
  BigInt: "a bigint",
  Literal: "a literal",
  Null: "null",
  Undefined: "undefined",
  Void: "void",
  Unknown: "unknown",
  Any: "any",
  Enum: "an enum",
  TemplateLiteral: "a string"
}

/**
 * One layer of a planned fan-out, as `Pipeline.plan` found it: for dry runs,
 * progress and messages.
 *
 * @since 0.1.0
 */
export interface Layer {
  readonly kind: Kind
  /** The process that opens it (whose seeds, or whose split output, make the branches). */
  readonly opener: string
  /** The branches: `seed41`, ... or `data1`, ... */
  readonly labels: ReadonlyArray<string>
  /** The seeds, or the partition numbers 1, 2, ... */
  readonly values: ReadonlyArray<number>
  /** For data layers: the output split, and the size setting. */
  readonly dataName?: string | undefined
  readonly size?: number | ReadonlyArray<number> | undefined
  /** The processes duplicated per branch of this layer (each once per branch of the layers it is in). */
  readonly processes: ReadonlyArray<string>
  /** The processes that collapse it (none when its branches run to the end of the pipeline). */
  readonly aggregatedBy: ReadonlyArray<string>
  readonly at?: string | undefined
}

/**
 * How many levels of records keyed by branch a schema declares
 * (`bySeed(X)`: 1, `byData(bySeed(X))`: 2), for checking an aggregation's
 * inputs against what it will receive.
 *
 * @internal
 */
export const recordDepth = (schema: Schema.Top): number => {
  let ast = SchemaAST.toType(schema.ast)
  let depth = 0
  while (ast._tag === "Objects" && ast.indexSignatures.length > 0 && ast.propertySignatures.length === 0) {
    depth++
    ast = SchemaAST.toType(ast.indexSignatures[0]!.type)
  }
  return depth
}
