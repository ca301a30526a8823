/**
 * Code fingerprints: a digest of the function a user wrote, stable under
 * whitespace- and comment-only edits and changed by any other edit.
 *
 * The source comes from `Function.prototype.toString`, which returns the text
 * as written (Node keeps the source; type annotations stripped by Node 24 show
 * up as blanks, which normalisation removes). A small tokenizer drops comments
 * and collapses whitespace outside string, template and regular-expression
 * literals, keeping one space only where two word characters would otherwise
 * fuse (`return x`).
 *
 * A function that only wraps another one (the result of `Effect.fn`, a bound
 * function, a native function) prints the same for every body, so it cannot
 * be fingerprinted: that is a definition error, reported with the fix.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { Effect } from "effect"
import { identity } from "effect/Function"

/**
 * @since 0.1.0
 */
export class UnfingerprintableFunctionError extends Error {
  readonly owner: string
  readonly reason: string
  constructor(owner: string, reason: string) {
    super(
      `${owner}: cannot fingerprint its body (${reason}). ` +
        `Pass the generator or arrow function itself, not a wrapper such as Effect.fn(...), ` +
        `or declare a \`version\` and bump it when the code changes.`
    )
    this.owner = owner
    this.reason = reason
  }
}

const isWord = (c: string): boolean => /[\p{L}\p{N}_$]/u.test(c)

/** After one of these tokens a `/` starts a regular expression, not a division. */
const REGEX_AFTER = new Set(["", "(", ",", "=", ":", "[", "!", "&", "|", "?", "{", "}", ";", "+", "-", "*", "%", "<", ">", "~", "^"])
/** Words after which a line break ends the statement, so it is kept (`return` then a line break returns nothing). */
const NEWLINE_SENSITIVE = new Set(["return", "throw", "yield", "break", "continue", "async"])
const REGEX_AFTER_WORDS = new Set(["return", "typeof", "case", "do", "else", "in", "of", "void", "yield", "await", "delete", "throw", "new"])

/**
 * Returns the source with comments removed and whitespace normalised.
 *
 * @since 0.1.0
 */
export const normalize = (source: string): string => {
  let out = ""
  let pendingSpace = false
  let lastWord = ""
  let i = 0
  const n = source.length
  // Template literal nesting: each entry counts open braces inside a `${`.
  const templateDepth: Array<number> = []

  // Whether the whitespace being skipped held a line break: after `return` and
  // its kind, a line break ends the statement (automatic semicolon insertion).
  let pendingNewline = false
  // The last token emitted, when it was a word.
  let emittedWord = ""
  const emit = (text: string) => {
    if (pendingSpace && out.length > 0) {
      const last = out[out.length - 1]!
      const first = text[0]!
      if (pendingNewline && NEWLINE_SENSITIVE.has(emittedWord)) out += "\n"
      // A line starting with `++`/`--` ends the statement before it (`a⏎++b` is `a; ++b`).
      else if (pendingNewline && (first === "+" || first === "-") && text.length === 1 && source[i] === first) out += "\n"
      else if (isWord(last) && isWord(first)) out += " "
      // `a + +b` is not `a ++b`, nor `x - -y` `x --y`.
      else if ((first === "+" || first === "-") && last === first) out += " "
    }
    pendingSpace = false
    pendingNewline = false
    emittedWord = isWord(text[0]!) && isWord(text[text.length - 1]!) ? text : ""
    out += text
  }
  const lastSignificant = (): string => (out.length === 0 ? "" : out[out.length - 1]!)

  const readTemplate = () => {
    // `i` is just past a backtick or a closing `}` of `${}`: copy to `${` or the end.
    let start = i
    while (i < n) {
      const c = source[i]!
      if (c === "\\") {
        i += 2
      } else if (c === "`") {
        i++
        emit(source.slice(start, i))
        return
      } else if (c === "$" && source[i + 1] === "{") {
        i += 2
        emit(source.slice(start, i))
        templateDepth.push(0)
        return
      } else {
        i++
      }
    }
    emit(source.slice(start, i))
  }

  while (i < n) {
    const c = source[i]!
    const next = source[i + 1]
    if (c === "/" && next === "/") {
      while (i < n && source[i] !== "\n") i++
      pendingSpace = true
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2)
      const stop = end === -1 ? n : end + 2
      if (source.slice(i, stop).includes("\n")) pendingNewline = true
      i = stop
      pendingSpace = true
    } else if (/\s/.test(c)) {
      if (c === "\n" || c === "\r" || c === "\u2028" || c === "\u2029") pendingNewline = true
      i++
      pendingSpace = true
    } else if (c === "\"" || c === "'") {
      const start = i++
      while (i < n && source[i] !== c) i += source[i] === "\\" ? 2 : 1
      i++
      emit(source.slice(start, i))
      lastWord = ""
    } else if (c === "`") {
      i++
      const save = out.length
      pendingSpace = pendingSpace && save > 0
      emit("`")
      readTemplate()
      lastWord = ""
    } else if (c === "}" && templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === 0) {
      templateDepth.pop()
      i++
      emit("}")
      readTemplate()
      lastWord = ""
    } else if (c === "/" && (REGEX_AFTER.has(lastSignificant()) && lastWord === "" || REGEX_AFTER_WORDS.has(lastWord))) {
      const start = i++
      let inClass = false
      while (i < n) {
        const d = source[i]!
        if (d === "\\") i += 2
        else {
          if (d === "[") inClass = true
          else if (d === "]") inClass = false
          else if (d === "/" && !inClass) break
          i++
        }
      }
      i++
      while (i < n && isWord(source[i]!)) i++ // flags
      emit(source.slice(start, i))
      lastWord = ""
    } else if (isWord(c)) {
      const start = i
      while (i < n && isWord(source[i]!)) i++
      lastWord = source.slice(start, i)
      emit(lastWord)
    } else {
      if (templateDepth.length > 0) {
        if (c === "{") templateDepth[templateDepth.length - 1]!++
        else if (c === "}") templateDepth[templateDepth.length - 1]!--
      }
      i++
      emit(c)
      lastWord = ""
    }
  }
  return out
}

/**
 * The printed sources of Effect's function wrappers. Whatever the body, a
 * wrapper prints as one of these, so they are sampled once and recognised by
 * exact text (robust to how a bundler or test runner rewrote Effect's code).
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

/**
 * The fingerprint of a function: SHA-256 of its normalised source and the
 * declared version. `owner` names the step or process in error messages.
 *
 * @since 0.1.0
 */
export const fingerprint = (owner: string, fn: Function, version?: string): string => {
  const source = Function.prototype.toString.call(fn)
  if (version === undefined) {
    if (source.includes("[native code]")) throw new UnfingerprintableFunctionError(owner, "it is a native or bound function")
    if (WRAPPER_SOURCES.has(source)) throw new UnfingerprintableFunctionError(owner, "it is a wrapper made by Effect.fn")
  }
  return createHash("sha256").update(normalize(source)).update("\0version:").update(version ?? "").digest("hex")
}

/**
 * What a body's key needs to know about a step it calls.
 *
 * @since 0.1.0
 */
export interface StepDependency {
  readonly name: string
  /** The step's own fingerprint, which already covers the steps it declares. */
  readonly code: string
  readonly schemas: { readonly input: string; readonly output: string; readonly config: string }
}

/**
 * The parts of a fingerprint that covers declared steps, kept in recipes so
 * that `explain` can say whether the body or one of its steps changed.
 *
 * @since 0.1.0
 */
export interface Parts {
  /** Fingerprint of the body and `version` alone. */
  readonly body: string
  /** Digest of each declared step (its fingerprint and schemas), by name. */
  readonly steps: Readonly<Record<string, string>>
}

const stepDigest = (step: StepDependency): string =>
  createHash("sha256")
    .update(`${step.code} ${step.schemas.input} ${step.schemas.output} ${step.schemas.config}`)
    .digest("hex")

/**
 * The parts of a body's fingerprint: the body's own, and one digest per
 * declared step (a step's own fingerprint already covers the steps it
 * declares, so the fold is transitive).
 *
 * @since 0.1.0
 */
export const parts = (body: string, steps: ReadonlyArray<StepDependency>): Parts => {
  const digests: Record<string, string> = {}
  for (const step of steps) {
    const digest = stepDigest(step)
    let name = step.name
    // Two different steps may share a name; keep both, in a stable order below.
    for (let n = 2; digests[name] !== undefined && digests[name] !== digest; n++) name = `${step.name} (${n})`
    digests[name] = digest
  }
  return { body, steps: digests }
}

/**
 * Folds the declared steps into the body's fingerprint, so that editing a
 * step (its code, `version`, schemas or name, which seeds it) changes the
 * fingerprint of every process and step that calls it. Reordering or
 * repeating entries of the `steps` list is not an edit.
 *
 * @since 0.1.0
 */
export const combine = (body: string, steps: ReadonlyArray<StepDependency>): string => {
  if (steps.length === 0) return body
  const lines = [...new Set(steps.map((step) => `${JSON.stringify(step.name)} ${stepDigest(step)}`))].sort()
  return createHash("sha256").update(body).update("\0steps:").update(lines.join("\n")).digest("hex")
}
