/**
 * What went wrong in a step or process, as the run report keeps it: the
 * error's message; where in the user's source it was raised
 * (`src/train.ts:95:12`); its stack with the user's frames only (the
 * framework's, Effect's and Node's left out); and, for a tagged error
 * (`Schema.TaggedError`), its tag and fields, so a report says as much as the
 * error did.
 *
 * The user's frames are those in files of the project (the root fingerprints
 * are relative to, see `CodeFingerprint.configure`) outside any
 * `node_modules`. Node runs TypeScript with its types blanked out, so the
 * positions are those of the file as written.
 *
 * @since 0.1.0
 */
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Cause from "effect/Cause"
import { jsonPicture } from "./internal/encoding.ts"
import * as Sources from "./internal/closure/sources.ts"

/**
 * The fields a failed step or process has in the run report.
 *
 * @since 0.1.0
 */
export interface Failure {
  /** The error's message; for a built-in error other than `Error`, with its name (`TypeError: ...`). */
  readonly error: string
  /** Where the user's code raised it: `file:line:column`, the file relative to the project. */
  readonly location?: string
  /** The error's stack, with only the user's frames, their files relative to the project. */
  readonly stack?: string
  /** A tagged error's `_tag`. */
  readonly errorTag?: string
  /** A tagged error's own fields, as JSON. */
  readonly errorFields?: Readonly<Record<string, unknown>>
}

/** The names under which JavaScript's own errors are worth showing: they say what kind of mistake it was. */
const BUILTIN = new Set(["TypeError", "RangeError", "ReferenceError", "SyntaxError", "EvalError", "URIError", "AggregateError"])

/**
 * A frame of a stack in the user's code.
 *
 * @since 0.1.0
 */
export interface Frame {
  /** The function, as V8 names it. */
  readonly fn: string | undefined
  /** Absolute. */
  readonly path: string
  readonly line: number
  readonly column: number
}

/** `    at fn (file:///a/b.ts:3:7)`, `    at file:///a/b.ts:3:7`, `    at async fn (/a/b.js:1:2)`: V8's frames. */
const FRAME = /^\s+at (?:async )?(?:(.+?) \()?((?:file:\/\/|\/)[^()]*?):(\d+):(\d+)\)?$/

const framesOf = (stack: string): Array<Frame> => {
  const frames: Array<Frame> = []
  for (const text of stack.split("\n")) {
    const match = FRAME.exec(text)
    if (match === null) continue
    let path = match[2]!
    if (path.startsWith("file:")) {
      try {
        path = fileURLToPath(path.replace(/\?.*$/, ""))
      } catch {
        continue
      }
    }
    frames.push({ fn: match[1], path, line: Number(match[3]), column: Number(match[4]) })
  }
  return frames
}

const isUserFrame = (frame: Frame): boolean => {
  const root = Sources.root()
  return Sources.isUserPath(frame.path) && (frame.path === root || frame.path.startsWith(root + Path.sep))
}

const at = (frame: Frame): string => `${Sources.relative(frame.path)}:${frame.line}:${frame.column}`

/**
 * The frames of an error's stack that are in the user's code, innermost first.
 *
 * @since 0.1.0
 */
export const userFrames = (error: unknown): ReadonlyArray<Frame> => {
  const stack = (error as { stack?: unknown } | null)?.stack
  return typeof stack === "string" ? framesOf(stack).filter(isUserFrame) : []
}

/**
 * Where in the user's code an error was raised, and its stack trimmed to
 * the user's frames; nothing when no frame is the user's.
 *
 * @since 0.1.0
 */
export const locate = (error: unknown): { readonly location?: string; readonly stack?: string } => {
  const user = userFrames(error)
  if (user.length === 0) return {}
  const head = `${(error as Error).name ?? "Error"}: ${(error as Error).message ?? ""}`
  const frames = user.map((f) => `    at ${f.fn === undefined ? at(f) : `${f.fn} (${at(f)})`}`)
  return { location: at(user[0]!), stack: [head, ...frames].join("\n") }
}

const messageOf = (error: unknown): string => {
  if (error instanceof Error) {
    const message = error.message || error.name
    return BUILTIN.has(error.name) && error.message ? `${error.name}: ${error.message}` : message
  }
  if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
    return (error as { message: string }).message
  }
  return String(error)
}

const OMITTED = new Set(["_tag", "message", "stack", "cause", "name"])

/**
 * A failure described from the error it was.
 *
 * @since 0.1.0
 */
export const fromError = (error: unknown): Failure => {
  const tag = typeof (error as { _tag?: unknown } | null)?._tag === "string" ? (error as { _tag: string })._tag : undefined
  let fields: Record<string, unknown> | undefined
  if (tag !== undefined) {
    fields = {}
    for (const key of Object.keys(error as object)) if (!OMITTED.has(key)) fields[key] = jsonPicture((error as Record<string, unknown>)[key])
  }
  return { error: messageOf(error), ...locate(error), ...(tag !== undefined ? { errorTag: tag, errorFields: fields! } : {}) }
}

/**
 * A failure described from the cause an effect failed with: its first
 * failure, else its first defect.
 *
 * @since 0.1.0
 */
export const fromCause = (cause: Cause.Cause<unknown>): Failure =>
  Cause.hasInterruptsOnly(cause) ? { error: "interrupted" } : fromError(Cause.squash(cause))

