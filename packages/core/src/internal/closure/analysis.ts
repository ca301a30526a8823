/**
 * The plain-data result of analysing one module (see `analyze.ts`): kept in
 * the index by the digest of the module's text, so it is reused without
 * parsing again.
 */
/** Bumped when the analysis changes meaning: indexed analyses of an older format are redone. */
export const ANALYSIS_FORMAT = 3

/**
 * What a top-level declaration is, for messages ("helper `softmax` changed").
 */
export type UnitKind =
  | "helper"
  | "class"
  | "constant"
  | "variable"
  | "step"
  | "process"
  | "statement"
  | "default export"
  | "enum"

/** A name read from module scope: `name`, or `name.member` for `ns.member`, or a literal dynamic import. */
export type Ref = string

/** A call whose result is not reproducible, or a value taken from outside the code at load. */
export interface Finding {
  readonly what: string
  readonly line: number
  readonly column: number
}

export interface Unit {
  readonly kind: UnitKind
  /** The module-level bindings it declares (none for a plain statement). */
  readonly names: ReadonlyArray<string>
  /** For a step or process: the `name` it is given, when written as a literal. */
  readonly title?: string | undefined
  readonly start: number
  readonly end: number
  readonly line: number
  readonly digest: string
  /**
   * For `const x = f(...)`: the call alone. Where a factory is called to make
   * a step, the call's arguments matter, not the name it gets.
   */
  readonly call?: Span | undefined
  /** Module-level names it reads or writes, `ns.member` for a member of a namespace, `import(spec)` for a literal dynamic import. */
  readonly refs: ReadonlyArray<Ref>
  /** Non-reproducible calls in it (`Math.random`, `Date.now`, ...). */
  readonly nondeterminism: ReadonlyArray<Finding>
  /** Values it computes at load from outside the code (a file read, an environment variable). */
  readonly external: ReadonlyArray<Finding>
  /** For a service declared with `Context.Service` (`class Db extends Context.Service<...>()("app/Db")`): its key. */
  readonly service?: string | undefined
  /** Module-level names it asks for as services: `yield* Db`, `Db.use(...)`. */
  readonly demands?: ReadonlyArray<string> | undefined
  /** Module-level names it provides as services: `Layer.effect(Db, ...)`, `Effect.provideService(Db, ...)`, `Db.layer...`. */
  readonly provides?: ReadonlyArray<string> | undefined
}

/** `[start, end)` of a node. */
export type Span = readonly [start: number, end: number]

export interface Captured {
  readonly name: string
  readonly line: number
  readonly column: number
}

export interface FunctionInfo {
  /** Span of the function as `Function.prototype.toString` prints it (a method from its name). */
  readonly start: number
  readonly end: number
  readonly line: number
  /** Index of the top-level unit it is in. */
  readonly unit: number
  /** The function node itself (for a method, without its name). Its digest is computed when needed (see `lazyDigest`). */
  readonly node: Span
  /**
   * The call it is an argument of (`Step.make({ ..., run })`) or else, when
   * it is not nested in another function, its unit: the definition of a
   * step, whose digest (with the function left out) tells a change of name,
   * schemas or options apart from a change of the body.
   */
  readonly container?: Span | undefined
  /**
   * The variables of enclosing functions it reads whose values are fixed by
   * code (a `const` helper inside a factory), transitively: their code counts.
   */
  readonly locals: ReadonlyArray<{ readonly name: string; readonly line: number; readonly digest: string }>
  /** Variables of enclosing functions it reads whose values only run time knows (parameters, `let`s, what derives from them). */
  readonly captured: ReadonlyArray<Captured>
}

export interface Import {
  readonly from: string
  /** The exported name, `default`, or `*` for a namespace import. */
  readonly name: string
}

export type Export =
  | { readonly local: string }
  | { readonly from: string; readonly name: string }

export interface FileAnalysis {
  readonly format: number
  readonly units: ReadonlyArray<Unit>
  /** Module-level binding -> the unit declaring it. */
  readonly bindings: Readonly<Record<string, number>>
  /** Plain statements that read or write a binding -> their units (top-level code that mutates it). */
  readonly statements: Readonly<Record<string, ReadonlyArray<number>>>
  readonly imports: Readonly<Record<string, Import>>
  readonly exports: Readonly<Record<string, Export>>
  /** `export * from` specifiers. */
  readonly stars: ReadonlyArray<string>
  /** Every module specifier it names (static imports, re-exports, literal dynamic imports). */
  readonly specifiers: ReadonlyArray<string>
  readonly functions: ReadonlyArray<FunctionInfo>
  /**
   * Digests computed when first needed (a body, a definition, the whole
   * module for the fallback), by what they digest: most functions are never
   * a body, so they are not digested up front. Kept with the analysis.
   */
  readonly digests: Record<string, string>
}
