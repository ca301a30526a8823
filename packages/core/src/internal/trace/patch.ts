/**
 * Wraps `node:fs`'s reading functions and `Math.random` while bodies run, so
 * that what a body reads directly through Node, and the random numbers it
 * (or a library it calls) draws from `Math.random`, are traced.
 *
 * Installed while at least one holder needs it (a run, or a body computed
 * outside a run) and restored when the last lets go: outside runs, Node's
 * functions are Node's own. Each wrapper asks which body is running now
 * (`Recorder.current`); outside bodies it only forwards the call.
 *
 * Named ESM imports (`import { readFileSync } from "node:fs"`) see the
 * wrappers because `syncBuiltinESMExports` copies the module object's
 * properties to its ESM exports.
 */
import { hash } from "node:crypto"
import { syncBuiltinESMExports } from "node:module"
import { pathOf } from "../../FilePaths.ts"
import { current, type Recorder } from "./recorder.ts"

type AnyFunction = (...args: Array<any>) => any

// The module objects themselves (an ESM namespace is read-only); `fs.promises` is `node:fs/promises`.
const fs = process.getBuiltinModule("node:fs")

/** Whether open flags allow reading: `r`, `r+`, `rs+`, `a+`, `w+`..., or numeric flags other than write-only. */
const reads = (flags: unknown): boolean => {
  if (flags === undefined || flags === null) return true
  if (typeof flags === "number") return (flags & 3) !== fs.constants.O_WRONLY
  return typeof flags === "string" && (flags.includes("r") || flags.includes("+"))
}

/** Whether open flags create or truncate: `w`, `w+`, `wx`..., or `O_TRUNC`/`O_CREAT` with `O_EXCL`. */
const replaces = (flags: unknown): boolean =>
  typeof flags === "number"
    ? (flags & fs.constants.O_TRUNC) !== 0 || ((flags & fs.constants.O_CREAT) !== 0 && (flags & fs.constants.O_EXCL) !== 0)
    : typeof flags === "string" && flags.includes("w")

const recordPath = (target: unknown) => {
  const recorder = current()
  if (recorder === undefined) return
  const path = pathOf(target)
  if (path !== undefined) recorder.read(path)
}

const recordWrite = (target: unknown) => {
  const recorder = current()
  if (recorder === undefined) return
  const path = pathOf(target)
  if (path !== undefined) recorder.write(path)
}

/** An open for writing and reading (`w+`) replaces the file first: written, then read back. */
const recordOpen = (target: unknown, flags: unknown) => {
  if (replaces(flags)) recordWrite(target)
  if (reads(flags)) recordPath(target)
}

const writeFlagsOf = (options: unknown): unknown =>
  typeof options === "string" ? "w" : ((options as { flag?: unknown } | undefined)?.flag ?? "w")

const flagsOf = (options: unknown): unknown =>
  typeof options === "string" ? undefined : (options as { flag?: unknown } | undefined)?.flag

/** The file reads recorded: by path, at call time (before the read starts). */
const wrappers: ReadonlyArray<readonly [object, string, (original: AnyFunction) => AnyFunction]> = [
  [fs, "readFileSync", (original) =>
    function readFileSync(this: unknown, path: unknown, options?: unknown) {
      if (reads(flagsOf(options))) recordPath(path)
      return original.apply(this, arguments as any)
    }],
  [fs, "readFile", (original) =>
    function readFile(this: unknown, path: unknown, options?: unknown) {
      if (reads(flagsOf(options))) recordPath(path)
      return original.apply(this, arguments as any)
    }],
  [fs, "createReadStream", (original) =>
    function createReadStream(this: unknown, path: unknown, options?: { fd?: unknown }) {
      if (typeof options !== "object" || options?.fd === undefined) recordPath(path)
      return original.apply(this, arguments as any)
    }],
  [fs, "openSync", (original) =>
    function openSync(this: unknown, path: unknown, flags?: unknown) {
      recordOpen(path, flags ?? "r")
      return original.apply(this, arguments as any)
    }],
  [fs, "open", (original) =>
    function open(this: unknown, path: unknown, flags?: unknown) {
      recordOpen(path, typeof flags === "function" || flags === undefined ? "r" : flags)
      return original.apply(this, arguments as any)
    }],
  // Files a body writes (whole) are its output: reading them back later is not a dependency.
  [fs, "writeFileSync", (original) =>
    function writeFileSync(this: unknown, path: unknown, _data: unknown, options?: unknown) {
      if (replaces(writeFlagsOf(options))) recordWrite(path)
      return original.apply(this, arguments as any)
    }],
  [fs, "writeFile", (original) =>
    function writeFile(this: unknown, path: unknown, _data: unknown, options?: unknown) {
      if (replaces(writeFlagsOf(typeof options === "function" ? undefined : options))) recordWrite(path)
      return original.apply(this, arguments as any)
    }],
  [fs, "createWriteStream", (original) =>
    function createWriteStream(this: unknown, path: unknown, options?: unknown) {
      if (typeof options !== "object" || (options as { fd?: unknown } | null)?.fd === undefined) {
        if (replaces(writeFlagsOf(options))) recordWrite(path)
      }
      return original.apply(this, arguments as any)
    }],
  [fs.promises, "writeFile", (original) =>
    function writeFile(this: unknown, path: unknown, _data: unknown, options?: unknown) {
      if (replaces(writeFlagsOf(options))) recordWrite(path)
      return original.apply(this, arguments as any)
    }],
  [fs.promises, "readFile", (original) =>
    function readFile(this: unknown, path: unknown, options?: unknown) {
      if (reads(flagsOf(options))) recordPath(path)
      return original.apply(this, arguments as any)
    }],
  [fs.promises, "open", (original) =>
    function open(this: unknown, path: unknown, flags?: unknown) {
      recordOpen(path, flags ?? "r")
      return original.apply(this, arguments as any)
    }]
]

const originalRandom = Math.random

/** Node's own `Math.random`, whether the wrapper is installed or not. */
export const nodeRandom = (): number => originalRandom()

/**
 * `Math.random` inside a body: the next number of the body's own stream,
 * seeded from its derived seed. A stream of its own, apart from Effect's
 * `Random`: a library's draws never shift the values the body draws from
 * `Random` (which stay what they were before `Math.random` was seeded).
 */
const seededMathRandom = function random(): number {
  const recorder = current()
  return recorder === undefined ? originalRandom() : nextDouble(recorder)
}

/** sfc32 over a seed's SHA-256: small, fast, and the same on every machine. */
const streams = new WeakMap<Recorder, Uint32Array>()
const nextWord = (s: Uint32Array): number => {
  const t = (((s[0]! + s[1]!) >>> 0) + s[3]!) >>> 0
  s[3] = (s[3]! + 1) >>> 0
  s[0] = s[1]! ^ (s[1]! >>> 9)
  s[1] = (s[2]! + (s[2]! << 3)) >>> 0
  s[2] = ((s[2]! << 21) | (s[2]! >>> 11)) >>> 0
  s[2] = (s[2]! + t) >>> 0
  return t
}
const nextDouble = (recorder: Recorder): number => {
  recorder.drew = true
  let state = streams.get(recorder)
  if (state === undefined) {
    const digest = hash("sha256", `expops-math-random\0${recorder.seed}`, "buffer")
    state = new Uint32Array([digest.readUInt32BE(0), digest.readUInt32BE(4), digest.readUInt32BE(8), digest.readUInt32BE(12)])
    for (let i = 0; i < 12; i++) nextWord(state)
    streams.set(recorder, state)
  }
  // 53 random bits, as Math.random has: 27 from one word, 26 from the next.
  return ((nextWord(state) >>> 5) * 67108864 + (nextWord(state) >>> 6)) / 9007199254740992
}

let holders = 0
let saved: Array<readonly [object, string, AnyFunction]> = []

const install = () => {
  saved = wrappers.map(([target, name]) => [target, name, (target as any)[name] as AnyFunction] as const)
  for (const [target, name, wrap] of wrappers) (target as any)[name] = wrap((target as any)[name])
  Math.random = seededMathRandom
  syncBuiltinESMExports()
}

const uninstall = () => {
  for (const [target, name, original] of saved) (target as any)[name] = original
  saved = []
  if (Math.random === seededMathRandom) Math.random = originalRandom
  syncBuiltinESMExports()
}

/** Takes a hold on the wrappers; the returned function lets go (once). */
export const hold = (): () => void => {
  if (holders++ === 0) install()
  let released = false
  return () => {
    if (released) return
    released = true
    if (--holders === 0) uninstall()
  }
}
