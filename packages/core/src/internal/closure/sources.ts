/**
 * The source text of the user's modules, as Node loaded them, and their
 * analyses, kept in an index keyed by the text's digest.
 *
 * The text a module was loaded from is what its functions run, whatever the
 * file says now: a file edited while a run is in progress must not be
 * fingerprinted from its newer text. `recordLoadedSources` hooks Node's
 * module loader to keep that text; a file Node has not loaded is read from
 * disk, once per process, so one run sees one version of it.
 */
import { createHash } from "node:crypto"
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import * as Module from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { ANALYSIS_FORMAT, type FileAnalysis, type Span } from "./analysis.ts"
import { analyze } from "./analyze.ts"
import { digestAt } from "./digests.ts"
import { parse } from "./parse.ts"
import type { Node } from "./normalize.ts"

interface State {
  /** Paths in fingerprints are relative to it, so keys do not depend on where a project lives. */
  root: string | undefined
  indexFile: string | undefined
  indexLoaded: boolean
  readonly texts: Map<string, { readonly text: string; readonly digest: string }>
  readonly analyses: Map<string, FileAnalysis>
  /** Digests of the analyses used in this process: the index keeps these, and drops the rest. */
  readonly used: Set<string>
  /** Digests the index file held when read. */
  readonly indexed: Set<string>
  /** Whether an analysis was made that the index does not hold. */
  dirty: boolean
  hooked: boolean
  /** Files parsed in this process (not found in the index). */
  parsed: number
  /** Syntax trees parsed in this process, by text digest, for digests computed when first needed. */
  readonly programs: Map<string, Node>
  /** Closures computed before, by definition (see `CodeFingerprint`), with what each was computed from. */
  readonly closures: Map<string, unknown>
  readonly usedClosures: Set<string>
  readonly indexedClosures: Set<string>
}

// One state per process, even if two copies of this module are loaded.
const key = Symbol.for("@expops/core/CodeSources")
const state: State = ((globalThis as Record<symbol, unknown>)[key] ??= {
  root: undefined,
  indexFile: undefined,
  indexLoaded: false,
  texts: new Map(),
  analyses: new Map(),
  used: new Set(),
  indexed: new Set(),
  dirty: false,
  hooked: false,
  parsed: 0,
  programs: new Map(),
  closures: new Map(),
  usedClosures: new Set(),
  indexedClosures: new Set()
}) as State

/** Where user code lives: a path not inside an installed package. */
export const isUserPath = (path: string): boolean => !path.split(Path.sep).includes("node_modules")

/**
 * Hooks Node's module loader so that the text of every user module loaded
 * from now on is kept. Idempotent.
 */
export const recordLoadedSources = (): void => {
  if (state.hooked) return
  state.hooked = true
  Module.registerHooks({
    load(url, context, nextLoad) {
      const result = nextLoad(url, context)
      if (url.startsWith("file:") && result.source !== undefined && result.source !== null) {
        const path = fileURLToPath(url)
        // A module loaded again under another URL query (a project reloaded in a long-lived process) is another text.
        const key = path + new URL(url).search
        if (isUserPath(path) && !state.texts.has(key)) {
          const text = typeof result.source === "string" ? result.source : Buffer.from(result.source as Uint8Array).toString("utf8")
          state.texts.set(key, { text, digest: digestText(text) })
        }
      }
      return result
    }
  })
}

const digestText = (text: string): string => createHash("sha256").update(text).digest("hex")

/**
 * Sets the project root (paths in fingerprints are relative to it) and the
 * index file that keeps analyses between runs.
 */
export const configure = (options: { readonly root: string; readonly indexFile?: string | undefined }): void => {
  state.root = options.root
  if (options.indexFile !== state.indexFile) {
    state.indexFile = options.indexFile
    state.indexLoaded = false
  }
}

export const root = (): string => (state.root ??= process.cwd())

const relatives = new Map<string, string>()

/** A path as it appears in fingerprints and messages: relative to the root, with `/`. */
export const relative = (path: string): string => {
  const key = `${root()}\0${path}`
  let known = relatives.get(key)
  if (known === undefined) {
    known = Path.relative(root(), path).split(Path.sep).join("/")
    relatives.set(key, known)
  }
  return known
}

/**
 * The text a module ran from (or, if Node has not loaded it, its text on
 * disk now); undefined if unreadable. `query` is the URL query the module
 * that asks was loaded under (empty but for a project reloaded in one
 * process): the text of that load, else of the plain load, else the disk.
 */
export const textOf = (path: string, query = ""): { readonly text: string; readonly digest: string } | undefined => {
  const known = state.texts.get(path + query) ?? state.texts.get(path)
  if (known !== undefined) return known
  try {
    const text = readFileSync(path, "utf8")
    const entry = { text, digest: digestText(text) }
    state.texts.set(path + query, entry)
    return entry
  } catch {
    return undefined
  }
}

const loadIndex = () => {
  if (state.indexLoaded) return
  state.indexLoaded = true
  if (state.indexFile === undefined) return
  try {
    const index = JSON.parse(readFileSync(state.indexFile, "utf8")) as {
      format?: number
      files?: Record<string, FileAnalysis>
      closures?: Record<string, unknown>
    }
    if (index.format !== ANALYSIS_FORMAT || index.files === undefined) return
    for (const [digest, analysis] of Object.entries(index.files)) {
      state.indexed.add(digest)
      if (!state.analyses.has(digest)) state.analyses.set(digest, analysis)
    }
    for (const [key, memo] of Object.entries(index.closures ?? {})) {
      state.indexedClosures.add(key)
      if (!state.closures.has(key)) state.closures.set(key, memo)
    }
  } catch {
    // No index yet, or an unreadable one: it is only a cache, rebuilt as files are analysed.
  }
}

/**
 * The analysis of a module's text, from the index when that text was seen
 * before. Throws a `SyntaxProblem` when the text does not parse.
 */
export const analysisOf = (path: string, source: { readonly text: string; readonly digest: string }): FileAnalysis => {
  loadIndex()
  let analysis = state.analyses.get(source.digest)
  if (analysis === undefined) {
    const program = parse(path, source.text)
    state.programs.set(source.digest, program)
    analysis = analyze(path, source.text, program)
    state.parsed++
    state.analyses.set(source.digest, analysis)
    state.dirty = true
  }
  state.used.add(source.digest)
  return analysis
}

/**
 * Writes the index when it changed: the analyses used in this process, so
 * that files edited away do not pile up. Best effort: a cache folder that
 * refuses writes costs the next run a parse, nothing else.
 */
export const flush = (): void => {
  if (state.indexFile === undefined) return
  const stale = [...state.indexed].some((digest) => !state.used.has(digest)) ||
    [...state.indexedClosures].some((key) => !state.usedClosures.has(key))
  if (!state.dirty && !stale) return
  state.dirty = false
  state.indexed.clear()
  for (const digest of state.used) state.indexed.add(digest)
  state.indexedClosures.clear()
  for (const key of state.usedClosures) state.indexedClosures.add(key)
  const files: Record<string, FileAnalysis> = {}
  for (const digest of [...state.used].sort()) files[digest] = state.analyses.get(digest)!
  const closures: Record<string, unknown> = {}
  for (const key of [...state.usedClosures].sort()) closures[key] = state.closures.get(key)
  try {
    mkdirSync(Path.dirname(state.indexFile), { recursive: true })
    const temp = `${state.indexFile}.${process.pid}.tmp`
    writeFileSync(temp, JSON.stringify({ format: ANALYSIS_FORMAT, files, closures }))
    renameSync(temp, state.indexFile)
  } catch {
    // See above: the index is an optimisation.
  }
}

/**
 * A closure computed before under `key` (kept in the index), for the caller
 * to check that what it was computed from still holds.
 */
export const recalled = (key: string): unknown => {
  loadIndex()
  const memo = state.closures.get(key)
  if (memo !== undefined) state.usedClosures.add(key)
  return memo
}

/** Keeps the analyses of these texts in the index: a recalled closure was computed from them. */
export const keepAnalyses = (digests: Iterable<string>): void => {
  for (const digest of digests) if (state.analyses.has(digest)) state.used.add(digest)
}

/** Keeps a closure under `key` for the next run. */
export const remember = (key: string, memo: unknown): void => {
  state.closures.set(key, memo)
  state.usedClosures.add(key)
  state.dirty = true
}

/**
 * A digest of part of a module (a function, a definition without its body,
 * the whole module), computed from its syntax tree the first time it is
 * needed and kept with the module's analysis, so the index serves it next time.
 */
export const digestOf = (
  path: string,
  source: { readonly text: string; readonly digest: string },
  analysis: FileAnalysis,
  what: "function" | "container" | "module",
  span?: Span,
  hole?: Span
): string => {
  const key = `${what}:${span?.join("-") ?? ""}:${hole?.join("-") ?? ""}`
  const known = analysis.digests[key]
  if (known !== undefined) return known
  const program = () => {
    let tree = state.programs.get(source.digest)
    if (tree === undefined) {
      tree = parse(path, source.text)
      state.parsed++
      state.programs.set(source.digest, tree)
    }
    return tree
  }
  const value = digestAt(program, what, span, hole)
  analysis.digests[key] = value
  state.dirty = true
  return value
}

/** How many files were parsed, and how many analyses were used, in this process. */
export const counts = (): { readonly parsed: number; readonly files: number } => ({ parsed: state.parsed, files: state.used.size })

/** Forgets every text and analysis (tests that edit files in one process). */
export const reset = (): void => {
  state.texts.clear()
  state.analyses.clear()
  state.used.clear()
  state.indexed.clear()
  state.programs.clear()
  state.closures.clear()
  state.usedClosures.clear()
  state.indexedClosures.clear()
  state.indexLoaded = false
  state.dirty = false
}
