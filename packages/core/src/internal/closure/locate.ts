/**
 * Finding a body in its source file: the function whose text is the text
 * Node prints for it. Node erases types by blanking them, so positions in a
 * `.ts` file match what runs and the printed text equals the source but
 * where the source had types.
 */
import type { FileAnalysis, FunctionInfo } from "./analysis.ts"

const MAX_SLACK = 256

const isSpace = (code: number): boolean => code === 32 || code === 9 || code === 10 || code === 13

/**
 * Whether `text` (a function as Node prints it) is the function at
 * `[start, end)` of `source`. Node erases types by blanking them, so the
 * printed text equals the source but where the source had types; a leading
 * type parameter list or a trailing type assertion is not printed at all.
 * Answers the number of characters not printed, or -1.
 */
const slackOf = (source: string, start: number, end: number, text: string): number => {
  const slack = end - start - text.length
  // Erased type parameters and assertions are short: a much longer function only contains the body.
  if (slack < 0 || slack > MAX_SLACK) return -1
  for (let offset = 0; offset <= slack; offset++) {
    let same = true
    for (let i = 0; i < text.length && same; i++) {
      const code = text.charCodeAt(i)
      same = code === source.charCodeAt(start + offset + i) || isSpace(code)
    }
    if (same) return slack
  }
  return -1
}

/**
 * How far a function starting at `start` is from the call at `near`: a body
 * is an argument of the call, so it comes after it; the first one after the
 * call is the best guess among functions of the same text.
 */
const distance = (start: number, near: number): number => (start >= near ? start - near : Number.MAX_SAFE_INTEGER / 2 + near - start)

/** The function of the file whose text is `text`: the closest fit, then the nearest after the call. */
export const locate = (analysis: FileAnalysis, source: string, text: string, near: number): FunctionInfo | undefined => {
  let best: FunctionInfo | undefined
  let bestSlack = Infinity
  for (const candidate of analysis.functions) {
    const slack = slackOf(source, candidate.start, candidate.end, text)
    if (slack < 0) continue
    const closer = best !== undefined && distance(candidate.start, near) < distance(best.start, near)
    if (slack < bestSlack || (slack === bestSlack && closer)) {
      best = candidate
      bestSlack = slack
    }
  }
  return best
}

export const offsetOf = (source: string, line: number, column: number): number => {
  let offset = 0
  for (let l = 1; l < line && offset !== -1; l++) offset = source.indexOf("\n", offset) + 1
  return Math.max(0, offset) + column - 1
}

export const unitAt = (analysis: FileAnalysis, offset: number): number =>
  analysis.units.findIndex((unit) => unit.start <= offset && offset < unit.end)
