/**
 * The code closure of a body: starting from its unit, every module-level
 * declaration it reaches, transitively, through its own module and the
 * user's modules it imports; installed packages by `name@version`.
 */
import type { FileAnalysis, Finding, Span, Unit } from "./analysis.ts"
import { digest } from "./normalize.ts"
import { resolve, type Target, targetKey } from "./resolve.ts"
import * as Sources from "./sources.ts"

/**
 * One thing a fingerprint is made of, kept in recipes so that `explain` can
 * name what changed.
 */
export interface Part {
  /** `body`, `definition`, a unit kind (`helper`, `constant`, `step`, ...), `package`, `module`, `captures`. */
  readonly kind: string
  readonly name: string
  /** The file, relative to the project root (absent for packages). */
  readonly file?: string | undefined
  readonly line?: number | undefined
  /** A digest of its code; for a package, its version. */
  readonly digest: string
}

/** Where a part is found, for matching parts of two fingerprints. */
export const partId = (part: Part): string => {
  if (part.kind === "package") return `package\0${part.name}`
  // A declaration is the same part whatever it became (a `const` helper turned into a function).
  const ownKind = part.kind === "body" || part.kind === "definition" || part.kind === "captures" || part.kind === "caller" || part.kind === "local"
  return `${part.file ?? ""}\0${ownKind ? part.kind : ""}\0${part.name}`
}

/** A finding in the closure, with where it is. */
export interface Located extends Finding {
  readonly file: string
  readonly kind: string
  readonly name: string
}

/** A service a body asks for (`yield* Db`) that its own code does not provide. */
export interface Service {
  /** The key it is declared with (`Context.Service<...>()("app/Db")`). */
  readonly key: string
  /** The name of its declaration. */
  readonly name: string
  readonly file: string
  readonly line: number
}

const unitName = (unit: Unit): string => unit.title ?? (unit.names.length > 0 ? unit.names.join(", ") : `line ${unit.line}`)

/**
 * Collects a closure. Files that cannot be read or parsed count as whole
 * texts (a change to them still changes the fingerprint).
 */
export class Closure {
  readonly parts = new Map<string, Part>()
  readonly nondeterminism: Array<Located> = []
  readonly external: Array<Located> = []
  /** Names the reached units ask for, or provide, as services, with the module they are read in. */
  private readonly demands: Array<{ readonly path: string; readonly name: string }> = []
  private readonly provisions: Array<{ readonly path: string; readonly name: string }> = []
  private readonly seen = new Set<string>()

  /** The URL query the body's module was loaded under (see `Sources.textOf`). */
  readonly query: string
  /** What the closure was computed from: each text read (its digest) and each import resolved, to tell later whether it still holds. */
  readonly reads = new Map<string, string>()
  readonly resolutions = new Map<string, readonly [from: string, specifier: string, target: string]>()

  constructor(query = "") {
    this.query = query
  }

  add(part: Part): void {
    this.parts.set(partId(part), part)
  }

  /** The text of a module, noted as something the closure depends on. */
  text(path: string): { readonly text: string; readonly digest: string } | undefined {
    const source = Sources.textOf(path, this.query)
    this.reads.set(path, source?.digest ?? "")
    return source
  }

  /** Resolves an import, noted as something the closure depends on. */
  private resolve(from: string, specifier: string): Target {
    const target = resolve(from, specifier)
    this.resolutions.set(`${from}\0${specifier}`, [from, specifier, targetKey(target)])
    return target
  }

  /** The analysis of a file, or undefined (after counting its text) when it has none. */
  analysis(path: string): FileAnalysis | undefined {
    const source = this.text(path)
    if (source === undefined) {
      this.add({ kind: "module", name: Sources.relative(path), file: Sources.relative(path), digest: "unreadable" })
      return undefined
    }
    try {
      return Sources.analysisOf(path, source)
    } catch {
      this.add({ kind: "module", name: Sources.relative(path), file: Sources.relative(path), digest: digest(source.text) })
      return undefined
    }
  }

  /** A digest computed from the module's syntax tree when first needed (see `Sources.digestOf`). */
  digestOf(path: string, analysis: FileAnalysis, what: "function" | "container" | "module", span?: Span, hole?: Span): string {
    const source = this.text(path)
    return source === undefined ? "unreadable" : Sources.digestOf(path, source, analysis, what, span, hole)
  }

  /** Adds a unit and what it reaches. `own` is the part to record instead of the unit's own (a definition without its body). */
  unit(path: string, analysis: FileAnalysis, index: number, own?: Part): void {
    const id = `${path}#${index}`
    if (this.seen.has(id)) return
    this.seen.add(id)
    const unit = analysis.units[index]!
    const file = Sources.relative(path)
    const name = unitName(unit)
    this.add(own ?? { kind: unit.kind, name, file, line: unit.line, digest: unit.digest })
    for (const finding of unit.nondeterminism) this.nondeterminism.push({ ...finding, file, kind: unit.kind, name })
    for (const finding of unit.external) this.external.push({ ...finding, file, kind: unit.kind, name })
    for (const demanded of unit.demands ?? []) this.demands.push({ path, name: demanded })
    for (const provided of unit.provides ?? []) this.provisions.push({ path, name: provided })
    for (const ref of unit.refs) this.ref(path, analysis, ref)
  }

  /**
   * A caller on the way to the definition (`export const byTwo = makeScale(2)`
   * calling a factory): its call counts, by its place in the chain, not by
   * the name it binds, so that two identical calls make identical steps.
   */
  caller(path: string, analysis: FileAnalysis, index: number, depth: number): void {
    const unit = analysis.units[index]!
    this.unit(path, analysis, index, {
      kind: "caller",
      name: String(depth),
      file: Sources.relative(path),
      line: unit.line,
      digest: unit.call === undefined ? unit.digest : this.digestOf(path, analysis, "container", unit.call)
    })
  }

  private ref(path: string, analysis: FileAnalysis, ref: string): void {
    if (ref.startsWith("import(")) return this.module(path, ref.slice("import(".length, -1))
    const dot = ref.indexOf(".")
    const name = dot === -1 ? ref : ref.slice(0, dot)
    const member = dot === -1 ? undefined : ref.slice(dot + 1)
    this.binding(path, analysis, name, member)
  }

  /** A module-level name: its declaration, or what it imports; and the top-level statements that touch it. */
  binding(path: string, analysis: FileAnalysis, name: string, member?: string): void {
    const imported = analysis.imports[name]
    if (imported !== undefined) {
      if (imported.name === "*") this.imported(path, imported.from, member ?? "*")
      else this.imported(path, imported.from, imported.name)
    } else {
      const index = analysis.bindings[name]
      if (index !== undefined) this.unit(path, analysis, index)
    }
    for (const statement of analysis.statements[name] ?? []) this.unit(path, analysis, statement)
  }

  /** `name` (or `*`, every export) of the module `specifier` imported from `path`. */
  private imported(path: string, specifier: string, name: string): void {
    const target = this.resolve(path, specifier)
    switch (target._tag) {
      case "Package":
        return this.add({ kind: "package", name: target.name, digest: target.version })
      case "Builtin":
        // By name: a builtin has no version of its own (Node's is the same for the whole run).
        return this.add({ kind: "package", name: target.name, digest: "builtin" })
      case "Unresolved":
        return this.add({ kind: "module", name: specifier, file: Sources.relative(path), digest: "unresolved" })
      case "File":
        return name === "*" ? this.allExports(target.path) : this.exported(target.path, name)
    }
  }

  private module(path: string, specifier: string): void {
    this.imported(path, specifier, "*")
  }

  private exported(path: string, name: string): void {
    const id = `${path}\0export\0${name}`
    if (this.seen.has(id)) return
    this.seen.add(id)
    const analysis = this.analysis(path)
    if (analysis === undefined) return
    const entry = analysis.exports[name]
    if (entry !== undefined) {
      if ("local" in entry) return this.binding(path, analysis, entry.local)
      return this.imported(path, entry.from, entry.name)
    }
    // Not its own: one of its `export *` modules has it. Which one is a
    // question of their exports; following all is never too little.
    for (const star of analysis.stars) this.starExport(path, star, name)
  }

  private starExport(path: string, specifier: string, name: string): void {
    const target = this.resolve(path, specifier)
    if (target._tag !== "File") return this.imported(path, specifier, name)
    if (this.exports(target.path, new Set()).has(name)) this.exported(target.path, name)
  }

  /** The names a module exports, through its `export *`s. */
  private exports(path: string, visiting: Set<string>): Set<string> {
    const names = new Set<string>()
    if (visiting.has(path)) return names
    visiting.add(path)
    const source = this.text(path)
    if (source === undefined) return names
    let analysis: FileAnalysis
    try {
      analysis = Sources.analysisOf(path, source)
    } catch {
      return names
    }
    for (const name of Object.keys(analysis.exports)) names.add(name)
    for (const star of analysis.stars) {
      const target = this.resolve(path, star)
      if (target._tag === "File") for (const name of this.exports(target.path, visiting)) if (name !== "default") names.add(name)
    }
    return names
  }

  private allExports(path: string): void {
    for (const name of this.exports(path, new Set())) this.exported(path, name)
  }

  /**
   * The services the closure asks for and does not provide itself: each
   * `yield* Db` whose `Db` is declared with `Context.Service` in the user's
   * code, unless the closure also builds it (`Layer.effect(Db, ...)`,
   * `Effect.provideService(Db, ...)`, `Db.layer`). A service of a package
   * is not seen (the closure does not follow packages).
   */
  services(): Array<Service> {
    const provided = new Set<string>()
    for (const { name, path } of this.provisions) {
      const found = this.declaration(path, name, 0)
      if (found !== undefined) provided.add(`${found.path}#${found.index}`)
    }
    const out = new Map<string, Service>()
    for (const { name, path } of this.demands) {
      const found = this.declaration(path, name, 0)
      const key = found?.unit.service
      if (found === undefined || key === undefined || provided.has(`${found.path}#${found.index}`)) continue
      out.set(key, { key, name: found.unit.names[0] ?? key, file: Sources.relative(found.path), line: found.unit.line })
    }
    return [...out.values()].sort((a, b) => (a.key < b.key ? -1 : 1))
  }

  /** The top-level declaration a name of a module stands for, through imports and re-exports. */
  private declaration(path: string, name: string, depth: number): { readonly path: string; readonly index: number; readonly unit: Unit } | undefined {
    const analysis = depth > 20 ? undefined : this.analysis(path)
    if (analysis === undefined) return undefined
    const imported = analysis.imports[name]
    if (imported !== undefined) {
      const target = this.resolve(path, imported.from)
      return target._tag === "File" && imported.name !== "*" ? this.exportedDeclaration(target.path, imported.name, depth + 1) : undefined
    }
    const index = analysis.bindings[name]
    return index === undefined ? undefined : { path, index, unit: analysis.units[index]! }
  }

  private exportedDeclaration(path: string, name: string, depth: number): { readonly path: string; readonly index: number; readonly unit: Unit } | undefined {
    const analysis = depth > 20 ? undefined : this.analysis(path)
    const entry = analysis?.exports[name]
    if (analysis === undefined) return undefined
    if (entry === undefined) {
      for (const star of analysis.stars) {
        const target = this.resolve(path, star)
        const found = target._tag === "File" ? this.exportedDeclaration(target.path, name, depth + 1) : undefined
        if (found !== undefined) return found
      }
      return undefined
    }
    if ("local" in entry) return this.declaration(path, entry.local, depth + 1)
    const target = this.resolve(path, entry.from)
    return target._tag === "File" && entry.name !== "*" ? this.exportedDeclaration(target.path, entry.name, depth + 1) : undefined
  }

  /**
   * The fallback: every module of the graph from `path`, whole, and the
   * packages they import. Counts more than the body needs, never less.
   */
  moduleGraph(path: string): void {
    const id = `${path}\0module`
    if (this.seen.has(id)) return
    this.seen.add(id)
    const analysis = this.analysis(path)
    if (analysis === undefined) return
    this.add({ kind: "module", name: Sources.relative(path), file: Sources.relative(path), digest: this.digestOf(path, analysis, "module") })
    for (const specifier of analysis.specifiers) {
      const target = this.resolve(path, specifier)
      if (target._tag === "File") this.moduleGraph(target.path)
      else if (target._tag === "Package") this.add({ kind: "package", name: target.name, digest: target.version })
    }
  }
}
