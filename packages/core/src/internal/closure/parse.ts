/**
 * Parsing a module with oxc-parser (pinned exactly in core's package.json),
 * loaded on first use only: a warm start, served from the index, never loads
 * the parser.
 */
import { createRequire } from "node:module"
import type { Node } from "./normalize.ts"

/** A parse error, with its position in the source. */
export class SyntaxProblem {
  readonly message: string
  readonly line: number
  readonly column: number
  constructor(message: string, line: number, column: number) {
    this.message = message
    this.line = line
    this.column = column
  }
}

interface Parser {
  readonly parseSync: (
    filename: string,
    source: string,
    options: { readonly lang?: string; readonly sourceType: "module"; readonly preserveParens: boolean }
  ) => { readonly program: Node; readonly errors: ReadonlyArray<{ readonly message: string; readonly labels: ReadonlyArray<{ readonly start: number }> }> }
  readonly visitorKeys: Readonly<Record<string, ReadonlyArray<string>>>
}

let parser: Parser | undefined
/** Loaded on first use only: a warm index never needs it. */
const loadParser = (): Parser => (parser ??= createRequire(import.meta.url)("oxc-parser") as Parser)

const langOf = (file: string): string => {
  if (/\.[mc]?tsx$/.test(file)) return "tsx"
  if (/\.[mc]?ts$/.test(file)) return "ts"
  if (/\.jsx$/.test(file)) return "jsx"
  return "js"
}

/** Line starts of a source, to turn offsets into 1-based lines and columns. */
export const lineIndex = (source: string) => {
  const starts = [0]
  for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) starts.push(i + 1)
  return (offset: number): { readonly line: number; readonly column: number } => {
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (starts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 }
  }
}

/** Parses a module. Fails with a `SyntaxProblem` naming the first error's position. */
export const parse = (file: string, source: string): Node => {
  const result = loadParser().parseSync(file, source, { lang: langOf(file), sourceType: "module", preserveParens: false })
  const error = result.errors[0]
  if (error !== undefined) {
    const at = lineIndex(source)(error.labels[0]?.start ?? 0)
    throw new SyntaxProblem(error.message, at.line, at.column)
  }
  return result.program
}

// ---------------------------------------------------------------------------
// Scopes

/** The parser's child keys per node type, for walking a tree in source order. */
export const visitorKeys = (): Readonly<Record<string, ReadonlyArray<string>>> => loadParser().visitorKeys
