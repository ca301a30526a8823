/**
 * Code fingerprints: a digest of all the code a step's or process's result
 * depends on — its **code closure**.
 *
 * `Step.make` and `Process.make` note where they were called from. The body
 * is found in that source file (checked against the text Node runs), and
 * the fingerprint covers, on the normalised syntax tree:
 *
 * - the body and its definition (name, schemas and the other options, whose
 *   expressions hold any code inside a schema transformation or filter);
 * - transitively, every module-level declaration they read — helpers,
 *   constants, classes, steps — in the same module and in the user's modules
 *   reached through relative imports, re-exports and literal dynamic imports,
 *   plus the top-level statements that touch those bindings;
 * - every installed package they import, by `name@version` (a package linked
 *   from source, by its source);
 * - the declared `version` and `captures`.
 *
 * Whitespace, comments, formatting, quote style, redundant parentheses and
 * type annotations do not count. What a static fingerprint cannot see is
 * said: a body reading a variable of an enclosing function is a definition
 * error (unless its value is declared in `captures`, or a `version` is set),
 * non-reproducible calls and values read at load from outside the code are
 * reported as diagnostics. When the source cannot be found or verified, the
 * whole module graph counts (more re-runs, never a stale result).
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Schema from "effect/Schema"
import * as CanonicalHash from "./CanonicalHash.ts"
import type { FileAnalysis, FunctionInfo } from "./internal/closure/analysis.ts"
import { analyze } from "./internal/closure/analyze.ts"
import { Closure, type Located, type Part, partId, type Service } from "./internal/closure/closure.ts"
import { locate, offsetOf, unitAt } from "./internal/closure/locate.ts"
import { digest } from "./internal/closure/normalize.ts"
import { resolve, setFallbacks, targetKey } from "./internal/closure/resolve.ts"
import * as Sources from "./internal/closure/sources.ts"

export type { Part, Service } from "./internal/closure/closure.ts"
export { partId } from "./internal/closure/closure.ts"
export type { FileAnalysis, FunctionInfo, Unit } from "./internal/closure/analysis.ts"

/**
 * What the fingerprints see in a module's source: its top-level declarations
 * with what each reads, its imports and exports, and its functions with the
 * variables of enclosing functions they read. Throws a `SyntaxProblem`-like
 * value with a line and column when the source does not parse.
 *
 * @since 0.1.0
 */
export const analyzeModule: (file: string, source: string) => FileAnalysis = (file, source) => analyze(file, source)

/**
 * A step or process definition that cannot be fingerprinted as written,
 * with the fix.
 *
 * @since 0.1.0
 */
export class DefinitionError extends Schema.TaggedError<DefinitionError>()("DefinitionError", {
  owner: Schema.String,
  reason: Schema.String,
  file: Schema.optional(Schema.String),
  line: Schema.optional(Schema.Number),
  column: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    const where = this.file === undefined ? "" : ` (${this.file}${this.line === undefined ? "" : `:${this.line}:${this.column ?? 1}`})`
    return `${this.owner}${where}: ${this.reason}`
  }
}

/**
 * Something a user should know about a fingerprint: a non-reproducible call
 * in the closure, a value read at load from outside the code, a source that
 * could not be verified.
 *
 * @since 0.1.0
 */
export interface Diagnostic {
  /** `warning`: shown on every run (an error with `--strict`); `debug`: shown at debug level. */
  readonly severity: "warning" | "debug"
  readonly code: "nondeterminism" | "load-time-value" | "unverified-source" | "no-source"
  /** `step fit`, `process train_model`. */
  readonly owner: string
  readonly message: string
  readonly file?: string | undefined
  readonly line?: number | undefined
  readonly column?: number | undefined
  /** For a finding in the closure: what was found (`Math.random()`, `an environment variable`). */
  readonly subject?: string | undefined
  /** Where it was found (``helper `softmax` ``). */
  readonly declaration?: string | undefined
  /** What to do instead. */
  readonly advice?: string | undefined
}

/**
 * Diagnostics in words, one line per finding however many definitions reach
 * it (a helper with `Math.random` is reached by every step that calls it).
 *
 * @since 0.1.0
 */
export const summarize = (diagnostics: ReadonlyArray<Diagnostic>): Array<string> => {
  const groups = new Map<string, { readonly first: Diagnostic; readonly owners: Array<string> }>()
  for (const d of diagnostics) {
    const id = d.subject === undefined ? `message\0${d.message}` : [d.code, d.subject, d.declaration, d.file, d.line, d.column].join("\0")
    const group = groups.get(id)
    if (group === undefined) groups.set(id, { first: d, owners: [d.owner] })
    else if (!group.owners.includes(d.owner)) group.owners.push(d.owner)
  }
  return [...groups.values()].map(({ first: d, owners }) => {
    if (d.subject === undefined) return d.message
    const where = `${d.declaration} (${d.file}:${d.line}:${d.column})`
    const by = `reached by ${owners.join(", ")}`
    return d.code === "nondeterminism"
      ? `${d.subject} in ${where} gives another result on every run; ${by}: ${d.advice}`
      : `${where} is computed at load from ${d.subject}, which the key cannot see; ${by}: ${d.advice}`
  })
}

/**
 * @since 0.1.0
 */
export interface Fingerprint {
  /** The digest keys use. */
  readonly code: string
  /** What it is made of, sorted, for explaining a change. */
  readonly parts: ReadonlyArray<Part>
  readonly diagnostics: ReadonlyArray<Diagnostic>
  /** The services its code asks for (`yield* Db`) and does not provide itself: what a layer must provide. */
  readonly services: ReadonlyArray<Service>
}

/**
 * Where a definition was made: the call stack of `Step.make` / `Process.make`
 * (through any wrapper a user wrote around them), innermost first.
 *
 * @since 0.1.0
 */
export interface Site {
  readonly path: string
  /** The query of the module's URL, usually empty (see `recordLoadedSources`). */
  readonly query?: string | undefined
  readonly line: number
  readonly column: number
}

/** The folder of this package's code (src/ or dist/): its frames are the framework's, not the user's. */
const frameworkRoot = Path.dirname(fileURLToPath(import.meta.url))

const toPath = (file: string | null | undefined): { readonly path: string; readonly query: string } | undefined => {
  if (file === null || file === undefined) return undefined
  if (file.startsWith("file:")) {
    try {
      return { path: fileURLToPath(file), query: new URL(file).search }
    } catch {
      return undefined
    }
  }
  return Path.isAbsolute(file) ? { path: file, query: "" } : undefined
}

/**
 * The user's frames in the current call stack, innermost first, without the
 * framework's and installed packages' frames. Called synchronously by
 * `Step.make` / `Process.make`.
 *
 * @since 0.1.0
 */
export const callSites = (): ReadonlyArray<Site> => {
  const holder: { stack?: unknown } = {}
  const prepare = Error.prepareStackTrace
  const limit = Error.stackTraceLimit
  try {
    Error.stackTraceLimit = 40
    Error.prepareStackTrace = (_, sites) => sites
    Error.captureStackTrace(holder, callSites)
    const sites = holder.stack as ReadonlyArray<NodeJS.CallSite>
    const out: Array<Site> = []
    for (const site of sites) {
      // An awaiting caller (`await import(...)` of the module being loaded) did not make the definition.
      if (site.isAsync()) continue
      const file = toPath(site.getFileName())
      if (file === undefined || !Sources.isUserPath(file.path) || file.path.startsWith(frameworkRoot + Path.sep)) continue
      out.push({ path: file.path, query: file.query, line: site.getLineNumber() ?? 1, column: site.getColumnNumber() ?? 1 })
    }
    return out
  } finally {
    Error.prepareStackTrace = prepare
    Error.stackTraceLimit = limit
  }
}

/**
 * The printed sources of Effect's function wrappers. Whatever the body, a
 * wrapper prints as one of these, so they are sampled once and recognised by
 * exact text.
 */
const WRAPPER_SOURCES: ReadonlySet<string> = (() => {
  const body = function*() {}
  const samples: Array<Function> = [
    Effect.fn("sample")(body),
    Effect.fn(body),
    Effect.fn("sample")(body, identity),
    Effect.fnUntraced(body),
    Effect.fnUntraced(body, identity),
    Effect.fnUntracedEager(body),
    Effect.fnUntracedEager(body, identity)
  ]
  return new Set(samples.map((f) => Function.prototype.toString.call(f)))
})()


const ADVICE: Readonly<Record<string, string>> = {
  "Date.now()": "read the time from Effect's `Clock` instead",
  "new Date()": "read the time from Effect's `Clock` instead",
  "performance.now()": "read the time from Effect's `Clock` instead",
  "crypto.randomUUID()": "derive ids from Effect's `Random` instead",
  "crypto.getRandomValues()": "draw from Effect's `Random` instead"
}

const findingsToDiagnostics = (owner: string, closure: Closure): Array<Diagnostic> => {
  const out: Array<Diagnostic> = []
  const place = (f: Located) => ({ file: f.file, line: f.line, column: f.column, declaration: `${f.kind} \`${f.name}\`` })
  const where = (f: Located) => `${f.kind} \`${f.name}\` (${f.file}:${f.line}:${f.column})`
  for (const f of closure.nondeterminism) {
    if (f.what === "Math.random()") {
      // Seeded per body during a run (see `Trace`): reproducible, so only worth a word at debug level.
      out.push({
        severity: "debug",
        code: "nondeterminism",
        owner,
        message: `${owner} reaches Math.random() in ${where(f)}: seeded per body while it runs, so reproducible for the same seed ` +
          "(a draw made after the body finished, or in a worker thread, is not)",
        subject: f.what,
        ...place(f)
      })
      continue
    }
    const advice = ADVICE[f.what] ?? "draw from Effect's `Random` or read Effect's `Clock` instead"
    out.push({
      severity: "warning",
      code: "nondeterminism",
      owner,
      message: `${owner} reaches ${f.what} in ${where(f)}, which gives another result on every run: ${advice}`,
      subject: f.what,
      advice,
      ...place(f)
    })
  }
  for (const f of closure.external) {
    const advice = "pass it as a parameter or config, or read it inside a body"
    out.push({
      severity: "warning",
      code: "load-time-value",
      owner,
      message: `${owner} reaches ${where(f)}, computed at load from ${f.what}: the key cannot see that value. ` +
        "Pass it as a parameter or config, or read it inside a body",
      subject: f.what,
      advice,
      ...place(f)
    })
  }
  return out
}

/**
 * @since 0.1.0
 */
export interface Definition {
  /** `step fit`, `process train_model`: names it in messages. */
  readonly owner: string
  readonly body: Function
  readonly sites: ReadonlyArray<Site>
  readonly version?: string | undefined
  /** Values the body reads from enclosing functions, declared so that they are part of the key. */
  readonly captures?: Readonly<Record<string, unknown>> | undefined
}

const combine = (parts: ReadonlyArray<Part>, version: string | undefined): string => {
  const hash = createHash("sha256")
  for (const part of parts) hash.update(partId(part)).update("\0").update(part.digest).update("\n")
  return hash.update("version\0").update(version ?? "").digest("hex")
}

const sortParts = (parts: Iterable<Part>): Array<Part> =>
  [...parts].map((part) => [partId(part), part] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, part]) => part)

/**
 * The fingerprint of a definition. Throws a `DefinitionError` when the body
 * cannot be fingerprinted as written (a wrapper such as `Effect.fn`, a
 * native function, a variable of an enclosing function it reads).
 *
 * @since 0.1.0
 */
export const fingerprint = (definition: Definition): Fingerprint => {
  const started = performance.now()
  try {
    return fingerprintUntimed(definition)
  } finally {
    spent.definitions++
    spent.ms += performance.now() - started
  }
}

const spent = { definitions: 0, ms: 0 }

/**
 * What fingerprinting has cost in this process: definitions fingerprinted,
 * milliseconds spent (parsing included), files parsed and files whose
 * analysis came from the index.
 *
 * @since 0.1.0
 */
export const stats = (): { readonly definitions: number; readonly ms: number; readonly parsed: number; readonly files: number } => ({
  ...spent,
  ...Sources.counts()
})

const fingerprintUntimed = (definition: Definition): Fingerprint => {
  const { body, owner, sites, version } = definition
  const text = Function.prototype.toString.call(body)
  if (version === undefined) {
    if (text.includes("[native code]")) {
      throw new DefinitionError({ owner, reason: `cannot fingerprint its body (it is a native or bound function). ${FIX_WRAPPER}` })
    }
    if (WRAPPER_SOURCES.has(text)) {
      throw new DefinitionError({ owner, reason: `cannot fingerprint its body (it is a wrapper made by Effect.fn). ${FIX_WRAPPER}` })
    }
  }
  const closure = staticClosure(owner, text, sites)
  const declared = definition.captures ?? {}
  const captured = closure.captured.filter((c) => !(c.name in declared))
  if (captured.length > 0 && version === undefined) {
    const first = captured[0]!
    const names = captured.map((c) => `\`${c.name}\``).join(", ")
    throw new DefinitionError({
      owner,
      file: closure.file,
      line: first.line,
      column: first.column,
      reason: `its body reads ${names} from an enclosing function, which the cache key cannot see. ` +
        `Pass ${captured.length > 1 ? "them" : "it"} as config (steps) or parameters (processes), ` +
        `declare ${captured.length > 1 ? "them" : "it"} in \`captures: { ${captured.map((c) => c.name).join(", ")} }\` (hashed into the key), ` +
        "or set a `version` and bump it whenever the value changes"
    })
  }
  let parts = closure.parts
  if (definition.captures !== undefined) {
    let digest: string
    try {
      digest = CanonicalHash.digest(capturedValues(definition.captures))
    } catch (cause) {
      throw new DefinitionError({
        owner,
        reason: `its \`captures\` cannot be hashed (${String((cause as Error)?.message ?? cause)}): declare plain data, or set a \`version\``,
        cause
      })
    }
    parts = sortParts([...parts, { kind: "captures", name: owner, digest }])
  }
  return { code: combine(parts, version), parts, diagnostics: closure.diagnostics, services: closure.services }
}

/**
 * What a definition's code reaches, before `version` and `captures`: the
 * same for the same body, made at the same place, from the same texts and
 * packages. Kept in the index with what it was computed from (every text
 * read, every import resolved), so a later run whose files and packages are
 * unchanged recalls it instead of walking the graph again.
 */
interface StaticClosure {
  readonly parts: ReadonlyArray<Part>
  readonly diagnostics: ReadonlyArray<Diagnostic>
  /** The services its code asks for and does not provide itself. */
  readonly services: ReadonlyArray<Service>
  /** Variables of enclosing functions the body reads (checked against `captures` by the caller). */
  readonly captured: ReadonlyArray<{ readonly name: string; readonly line: number; readonly column: number }>
  /** The body's file, for messages. */
  readonly file: string | undefined
  readonly reads: ReadonlyArray<readonly [path: string, digest: string]>
  readonly resolutions: ReadonlyArray<readonly [from: string, specifier: string, target: string]>
}

const stillHolds = (memo: StaticClosure, query: string): boolean =>
  memo.reads.every(([path, digest]) => (Sources.textOf(path, query)?.digest ?? "") === digest) &&
  memo.resolutions.every(([from, specifier, target]) => targetKey(resolve(from, specifier)) === target)

const staticClosure = (owner: string, text: string, sites: ReadonlyArray<Site>): StaticClosure => {
  const query = sites[0]?.query ?? ""
  const key = createHash("sha256")
    .update(JSON.stringify(["closure/services", Sources.root(), owner, text, sites.map((s) => [s.path, s.line, s.column])]))
    .digest("hex")
  const memo = Sources.recalled(key) as StaticClosure | undefined
  if (memo !== undefined && stillHolds(memo, query)) {
    Sources.keepAnalyses(memo.reads.map(([, digest]) => digest))
    return memo
  }
  const computed = computeStaticClosure(owner, text, sites)
  Sources.remember(key, computed)
  return computed
}

const computeStaticClosure = (owner: string, text: string, sites: ReadonlyArray<Site>): StaticClosure => {
  const closure = new Closure(sites[0]?.query)
  const diagnostics: Array<Diagnostic> = []
  let captured: StaticClosure["captured"] = []
  let file: string | undefined
  const found = findBody(closure, sites, text)
  if (found !== undefined) {
    const { analysis, fn, path, site } = found
    file = Sources.relative(path)
    captured = fn.captured
    closure.add({ kind: "body", name: owner, file, line: fn.line, digest: closure.digestOf(path, analysis, "function", fn.node) })
    // Helpers and constants of an enclosing function (a factory) that the body reads: code, so it counts.
    for (const local of fn.locals) closure.add({ kind: "local", name: local.name, file, line: local.line, digest: local.digest })
    if (fn.unit >= 0) {
      const unit = analysis.units[fn.unit]!
      closure.unit(path, analysis, fn.unit, {
        kind: "definition",
        name: owner,
        file,
        line: unit.line,
        digest: fn.container === undefined ? unit.digest : closure.digestOf(path, analysis, "container", fn.container, fn.node)
      })
    }
    // The wrappers and factories it was made through, and the declarations that call them.
    sites.forEach((other, depth) => {
      if (other === site) return
      const otherAnalysis = closure.analysis(other.path)
      const source = closure.text(other.path)
      if (otherAnalysis === undefined || source === undefined) return
      const index = unitAt(otherAnalysis, offsetOf(source.text, other.line, other.column))
      if (index >= 0) closure.caller(other.path, otherAnalysis, index, depth)
    })
  } else if (sites.length > 0) {
    closure.moduleGraph(sites[0]!.path)
    closure.add({ kind: "body", name: owner, digest: digest(text) })
    diagnostics.push({
      severity: "debug",
      code: "unverified-source",
      owner,
      message: `${owner}: the function Node runs is not in ${Sources.relative(sites[0]!.path)} as it is on disk ` +
        "(a bundler or test runner may have transformed it), so the whole module and the modules it imports count",
      file: Sources.relative(sites[0]!.path)
    })
  } else {
    closure.add({ kind: "body", name: owner, digest: digest(text) })
    diagnostics.push({
      severity: "warning",
      code: "no-source",
      owner,
      message: `${owner}: its source file is unknown (made by eval or new Function?), so only the body's own text counts; ` +
        "edits to what it calls are not seen: set a `version` and bump it when they change"
    })
  }
  diagnostics.push(...findingsToDiagnostics(owner, closure))
  return {
    parts: sortParts(closure.parts.values()),
    diagnostics,
    services: closure.services(),
    captured,
    file,
    reads: [...closure.reads],
    resolutions: [...closure.resolutions.values()]
  }
}

/** A step or process captured by a factory-made body counts by its own fingerprint. */
const capturedValues = (captures: Readonly<Record<string, unknown>>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(captures)) {
    const code = (value as { readonly code?: unknown } | null)?.code
    out[name] = typeof value === "function" && typeof code === "string" ? { definition: code } : value
  }
  return out
}

const FIX_WRAPPER = "Pass the generator or arrow function itself, not a wrapper such as Effect.fn(...), " +
  "or declare a `version` and bump it when the code changes."

const findBody = (
  closure: Closure,
  sites: ReadonlyArray<Site>,
  text: string
): { readonly analysis: FileAnalysis; readonly fn: FunctionInfo; readonly path: string; readonly site: Site } | undefined => {
  for (const site of sites) {
    const analysis = closure.analysis(site.path)
    const source = closure.text(site.path)
    if (analysis === undefined || source === undefined) continue
    const fn = locate(analysis, source.text, text, offsetOf(source.text, site.line, site.column))
    if (fn !== undefined) return { analysis, fn, path: site.path, site }
  }
  return undefined
}

/** Everything said about the definitions made so far (drained by `takeDiagnostics`). */
const pending: Array<Diagnostic> = []

/**
 * Records what a definition's fingerprint said, for the CLI to show at load.
 *
 * @internal
 */
export const report = (diagnostics: ReadonlyArray<Diagnostic>): void => {
  for (const d of diagnostics) if (!pending.some((p) => p.message === d.message)) pending.push(d)
}

/**
 * The diagnostics of the definitions made since the last call, and forgets them.
 *
 * @since 0.1.0
 */
export const takeDiagnostics = (): ReadonlyArray<Diagnostic> => pending.splice(0, pending.length)

/**
 * Makes fingerprints relative to `root` (so keys do not depend on where a
 * project lives) and keeps the analysis of each source text in `indexFile`,
 * so that unchanged files are not parsed again.
 *
 * @since 0.1.0
 */
export const configure: (options: { readonly root: string; readonly indexFile?: string | undefined }) => void = Sources.configure

/**
 * Tells fingerprints which packages the module loader gives to modules that
 * have no copy of their own installed (name -> the folder of the copy that
 * is loaded), so that a project outside any `node_modules` still counts, say,
 * `effect` by the version that runs. The CLI's resolve hooks do this for
 * projects anywhere on disk.
 *
 * @since 0.1.0
 */
export const fallbackPackages: (dirs: Readonly<Record<string, string>>) => void = setFallbacks

/**
 * Keeps the text of every module Node loads from now on, so fingerprints are
 * of the code that runs even if a file is edited during a run.
 *
 * @since 0.1.0
 */
export const recordLoadedSources: () => void = Sources.recordLoadedSources

/**
 * Writes the analysis index, when it changed.
 *
 * @since 0.1.0
 */
export const flush: () => void = Sources.flush
