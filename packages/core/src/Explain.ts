/**
 * Explains a miss: which parts of a key's recipe differ from an earlier
 * entry of the same name, in words a user understands.
 *
 * @since 0.1.0
 */
import * as CodeFingerprint from "./CodeFingerprint.ts"
import type { Recipe } from "./Recipe.ts"
import type { FileRead, Trace } from "./Trace.ts"

/**
 * One difference between two recipes.
 *
 * @since 0.1.0
 */
export interface Change {
  /** `code`, `step`, `package`, `version`, `input`, `parameter`, `config`, `schema`, `seed`, `data`, `file`, `format`. */
  readonly part: string
  readonly message: string
  /** For a `file` change: the file, as its trace names it. */
  readonly path?: string | undefined
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value)
  if (text === undefined) return "(none)"
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

const fields = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {}

const describePart = (before: CodeFingerprint.Part | undefined, after: CodeFingerprint.Part | undefined, what: string): Change => {
  const part = (after ?? before)!
  const where = part.file === undefined ? "" : ` (${part.file}${part.line === undefined ? "" : `:${part.line}`})`
  switch (part.kind) {
    case "body":
      return { part: "code", message: `code of ${what} changed` }
    case "definition":
      return { part: "code", message: `definition of ${what} changed: its name, schemas or other options${where}` }
    case "captures":
      return { part: "code", message: `captured values of ${what} changed` }
    case "caller":
      return { part: "code", message: `the call that makes ${what} changed${where}` }
    case "local":
      return { part: "code", message: `\`${part.name}\` of the function that makes ${what} changed${where}` }
    case "package": {
      const version = (p: CodeFingerprint.Part) => (p.digest.startsWith("source ") ? "(linked from source)" : p.digest)
      if (before === undefined) return { part: "package", message: `${what} now uses package \`${part.name}\` ${version(part)}` }
      if (after === undefined) return { part: "package", message: `${what} no longer uses package \`${part.name}\`` }
      return before.digest.startsWith("source ") && after.digest.startsWith("source ")
        ? { part: "package", message: `package \`${part.name}\` changed (linked from source)` }
        : { part: "package", message: `package \`${part.name}\` ${before.digest} -> ${after.digest}` }
    }
    case "module":
      return { part: "code", message: `module ${part.name} changed (its whole text counts: the source could not be analysed)` }
    default: {
      const label = `${part.kind} \`${part.name}\`${part.file === undefined ? "" : ` (${part.file})`}`
      const kind = part.kind === "step" || part.kind === "process" ? "step" : "code"
      if (before === undefined) return { part: kind, message: `${what} now uses ${label}` }
      if (after === undefined) return { part: kind, message: `${what} no longer uses ${label}` }
      return { part: kind, message: `${label} changed` }
    }
  }
}

/**
 * Why two code fingerprints differ: the version, or which parts of the code
 * closure (the body, its definition, a helper, a package...). A recipe
 * without `codeParts` predates code closures; one with
 * `codePartsUnavailable` had them stored apart, and they are gone or corrupt.
 */
const codeChanges = (before: Recipe, after: Recipe, what: string): Array<Change> => {
  if (before.version !== after.version) {
    return [{ part: "version", message: `version of ${what} changed (${before.version ?? "none"} -> ${after.version ?? "none"})` }]
  }
  // Parts stored apart that could not be read back (see `CodeParts`): say so, rather than guess.
  const unavailable = before.codePartsUnavailable ?? after.codePartsUnavailable
  if (unavailable !== undefined) {
    const which = before.codePartsUnavailable !== undefined ? "the earlier entry's" : "this entry's"
    return [{ part: "code", message: `code of ${what} changed (which part is not known: the code parts of ${which} recipe cannot be read, ${unavailable})` }]
  }
  if (before.codeParts === undefined || after.codeParts === undefined) return [{ part: "code", message: `code of ${what} changed` }]
  const index = (parts: ReadonlyArray<CodeFingerprint.Part>) => new Map(parts.map((part) => [CodeFingerprint.partId(part), part]))
  const b = index(before.codeParts)
  const a = index(after.codeParts)
  const changes: Array<Change> = []
  for (const id of [...new Set([...b.keys(), ...a.keys()])].sort()) {
    const x = b.get(id)
    const y = a.get(id)
    if (x?.digest !== y?.digest) changes.push(describePart(x, y, what))
  }
  return changes.length > 0 ? changes : [{ part: "code", message: `code of ${what} changed` }]
}

/**
 * The changes of the files a trace recorded, given what they hold now (or
 * what a later trace recorded): `file data/extra.json changed (read by
 * process \`load\`)`.
 *
 * @since 0.1.0
 */
export const fileChanges = (recipe: Recipe, before: ReadonlyArray<FileRead>, now: ReadonlyArray<FileRead>): Array<Change> => {
  const current = new Map(now.map((file) => [file.path, file.digest]))
  const by = `read by ${recipe.kind} \`${recipe.name}\``
  const changes: Array<Change> = []
  for (const file of before) {
    const digest = current.get(file.path)
    if (digest === undefined || digest === file.digest) continue
    const how = digest === "absent" ? "is missing" : file.digest === "absent" ? "appeared" : "changed"
    changes.push({ part: "file", message: `file ${file.path} ${how} (${by})`, path: file.path })
  }
  return changes
}

/**
 * The changes from `before` to `after`; empty when they have the same key
 * parts. Given their traces (see `Trace`), also the files that changed
 * between them, and the seed only when `before` drew random numbers (an
 * entry that drew none is served whatever the seed).
 *
 * @since 0.1.0
 */
export const diff = (
  before: Recipe,
  after: Recipe,
  traces?: { readonly before?: Trace | undefined; readonly after?: Trace | undefined }
): Array<Change> => {
  const changes: Array<Change> = []
  const what = `${after.kind} \`${after.name}\``
  if (before.format !== after.format) {
    changes.push({ part: "format", message: `cache format changed (${before.format} -> ${after.format})` })
  }
  if (before.code !== after.code) changes.push(...codeChanges(before, after, what))
  if (before.input !== after.input) {
    const names = new Set([...Object.keys(before.inputParts), ...Object.keys(after.inputParts)])
    const changed = [...names].filter((n) => before.inputParts[n] !== after.inputParts[n])
    if (changed.length === 0) changes.push({ part: "input", message: "input changed" })
    for (const name of changed) {
      const source = after.inputSources?.[name] ?? before.inputSources?.[name]
      const from = source !== undefined ? ` (from upstream \`${source}\`)` : ""
      const how = !(name in before.inputParts) ? "added" : !(name in after.inputParts) ? "removed" : "changed"
      changes.push({ part: "input", message: `input \`${name}\` ${how}${from}` })
    }
  }
  if (before.config !== after.config) {
    const label = after.kind === "process" ? "parameter" : "config"
    const b = fields(before.configValue)
    const a = fields(after.configValue)
    const names = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((n) => JSON.stringify(b[n]) !== JSON.stringify(a[n]))
    if (names.length === 0) changes.push({ part: label, message: `${label} changed (${show(before.configValue)} -> ${show(after.configValue)})` })
    for (const name of names) changes.push({ part: label, message: `${label} \`${name}\` ${show(b[name])} -> ${show(a[name])}` })
  }
  for (const side of ["input", "output", "config"] as const) {
    if (before.schemas[side] !== after.schemas[side]) {
      changes.push({ part: "schema", message: `${side === "config" && after.kind === "process" ? "parameters" : side} schema of ${what} changed` })
    }
  }
  if (traces?.before !== undefined && traces.after !== undefined) {
    // The data file is named below, as the data file, when its digest (part of the key) changed.
    const dataChanged = before.data !== after.data
    changes.push(...fileChanges(after, traces.before.files, traces.after.files).filter((change) => !(dataChanged && change.path === after.dataPath)))
  }
  if (before.seed !== after.seed && traces?.before?.random !== false) {
    const rootChanged = before.rootSeed !== undefined && after.rootSeed !== undefined && before.rootSeed !== after.rootSeed
    // A step's seed also derives from its input and config (see Reproducibility):
    // when either changed, a new seed follows and is no news.
    const follows = after.kind === "step" && (before.input !== after.input || before.config !== after.config)
    if (rootChanged) changes.push({ part: "seed", message: `seed changed (${before.rootSeed} -> ${after.rootSeed})` })
    else if (!follows) changes.push({ part: "seed", message: `seed changed (${before.seed} -> ${after.seed})` })
  }
  if (before.data !== after.data) {
    changes.push({ part: "data", message: `data file ${after.dataPath ?? before.dataPath ?? ""} changed`.replace("  ", " ") })
  }
  return changes
}
