/**
 * Why a project's pipeline module could not be imported, placed in the
 * user's code: a syntax error at its file, line and column (in the module
 * itself or in a module it imports), an error thrown while a module loads
 * at the line that threw it. Nothing of this is in the config file, which
 * only names the entry module.
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import * as Path from "node:path"
import { CodeFingerprint, Failure } from "@expops/core"

/** A place in a source file and what is wrong there. */
export interface Located {
  /** Absolute. */
  readonly file: string
  readonly line: number
  readonly column?: number | undefined
  readonly reason: string
  /** The user's frames of the stack, for an error thrown at load. */
  readonly stack?: string | undefined
}

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** The file a relative specifier names, as Node 24 would load it (`./x.ts`, or `./x.js` written for `./x.ts`). */
const target = (from: string, specifier: string): string | undefined => {
  if (!specifier.startsWith(".")) return undefined
  const path = Path.resolve(Path.dirname(from), specifier)
  return [path, path.replace(/\.(m|c)?js$/, ".$1ts")].find(isFile)
}

/**
 * The first module in the graph of `entry` (itself, then what it imports,
 * depth first) whose source does not parse, with the parser's position.
 */
const syntaxError = (entry: string): Located | undefined => {
  const seen = new Set<string>()
  const visit = (file: string): Located | undefined => {
    if (seen.has(file) || !existsSync(file) || file.split(Path.sep).includes("node_modules")) return undefined
    seen.add(file)
    let specifiers: ReadonlyArray<string>
    try {
      specifiers = CodeFingerprint.analyzeModule(file, readFileSync(file, "utf8")).specifiers
    } catch (problem) {
      const { column, line, message } = problem as { line?: unknown; column?: unknown; message?: unknown }
      if (typeof line !== "number") return undefined
      return { file, line, column: typeof column === "number" ? column : undefined, reason: `syntax error: ${String(message)}` }
    }
    for (const specifier of specifiers) {
      const next = target(file, specifier)
      const found = next === undefined ? undefined : visit(next)
      if (found !== undefined) return found
    }
    return undefined
  }
  return visit(entry)
}

/**
 * Node's own account of where a syntax error is: the first line of the
 * stack it prints for one (`/path/to/file.ts:12`), for what the parser
 * accepts but Node does not (TypeScript that type stripping cannot erase).
 */
const nodeSyntaxPosition = (error: unknown): { readonly file: string; readonly line: number } | undefined => {
  const first = String((error as { stack?: unknown })?.stack ?? "").split("\n")[0] ?? ""
  const match = /^(?:file:\/\/)?(\/.+):(\d+)$/.exec(first)
  return match === null ? undefined : { file: match[1]!, line: Number(match[2]) }
}

/**
 * Where the import of `entry` failed in the user's code, or undefined when
 * the failure is not in a module's code (a missing file: its message says
 * which).
 */
export const locate = (entry: string, error: unknown): Located | undefined => {
  const code = (error as { code?: unknown } | null)?.code
  const message = String((error as { message?: unknown } | null)?.message ?? error)
  if ((error as { name?: unknown } | null)?.name === "SyntaxError" || code === "ERR_INVALID_TYPESCRIPT_SYNTAX" || code === "ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX") {
    const found = syntaxError(entry)
    if (found !== undefined) return found
    const position = nodeSyntaxPosition(error)
    return position === undefined ? undefined : { ...position, reason: `syntax error: ${message}` }
  }
  if (code === "ERR_MODULE_NOT_FOUND" || code === "ERR_UNKNOWN_FILE_EXTENSION") return undefined
  // Thrown by the code of a module as it loads: the user's frame that threw.
  const frame = Failure.userFrames(error)[0]
  if (frame === undefined) return undefined
  const failure = Failure.fromError(error)
  return { file: frame.path, line: frame.line, column: frame.column, reason: `threw while loading: ${failure.error}`, stack: failure.stack }
}
