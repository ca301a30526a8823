/**
 * Explains a miss: which parts of a key's recipe differ from an earlier
 * entry of the same name, in words a user understands.
 *
 * @since 0.1.0
 */
import type { Recipe } from "./Recipe.ts"

/**
 * One difference between two recipes.
 *
 * @since 0.1.0
 */
export interface Change {
  /** `code`, `step`, `version`, `input`, `parameter`, `config`, `schema`, `seed`, `data`, `format`. */
  readonly part: string
  readonly message: string
}

const show = (value: unknown): string => {
  const text = JSON.stringify(value)
  if (text === undefined) return "(none)"
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

const fields = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {}

/**
 * Why two code fingerprints differ: the version, the body, or which of the
 * declared steps. A recipe without `codeParts` declared no steps.
 */
const codeChanges = (before: Recipe, after: Recipe, what: string): Array<Change> => {
  if (before.version !== after.version) {
    return [{ part: "version", message: `version of ${what} changed (${before.version ?? "none"} -> ${after.version ?? "none"})` }]
  }
  const b = before.codeParts ?? { body: before.code, steps: {} }
  const a = after.codeParts ?? { body: after.code, steps: {} }
  const changes: Array<Change> = []
  if (b.body !== a.body) changes.push({ part: "code", message: `code of ${what} changed` })
  for (const name of [...new Set([...Object.keys(b.steps), ...Object.keys(a.steps)])].sort()) {
    if (b.steps[name] === a.steps[name]) continue
    const how = b.steps[name] === undefined
      ? "now declares"
      : a.steps[name] === undefined
      ? "no longer declares"
      : "calls a changed"
    changes.push({ part: "step", message: `${what} ${how} step \`${name}\`` })
  }
  return changes.length > 0 ? changes : [{ part: "code", message: `code of ${what} changed` }]
}

/**
 * The changes from `before` to `after`; empty when they have the same key parts.
 *
 * @since 0.1.0
 */
export const diff = (before: Recipe, after: Recipe): Array<Change> => {
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
  if (before.seed !== after.seed) {
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
