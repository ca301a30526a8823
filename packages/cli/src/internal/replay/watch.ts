/**
 * What a run of the CLI looked at on disk, noted from its first module on,
 * each path with its state when first seen, so that a later run can tell
 * whether anything it depended on has changed since (see `receipt.ts`).
 *
 * Two sources, both conservative (noting more than is needed costs a replay,
 * never its soundness):
 *
 * - every module Node resolves, through a `module.registerHooks` resolve
 *   hook registered after the CLI's other hooks (so it sees what they
 *   answer): the file it resolved to; the `package.json` that decides its
 *   format and the importer's (and, for the user's files, the absence of
 *   any nearer one); for a package name, the `node_modules/NAME` folders
 *   looked in up from the importer, to the one found and where it leads;
 *   for a relative import that led elsewhere (a symbolic link, a probed
 *   extension), where it leads;
 * - every path given to `node:fs`'s reading and probing functions
 *   (`readFileSync`, `statSync`, `existsSync`, `readdirSync`, `openSync`, ...,
 *   their callback and promise forms): the configuration, the data file, the
 *   `package.json` files read for package versions, the files read by the
 *   code fingerprints and by the traces' checks, and whatever the project's
 *   modules read as they load. A listed folder is noted as listed: what it
 *   holds matters, not only that it exists.
 *
 * A path's state is taken when it is first seen, before it is read: an edit
 * made while the run goes makes the receipt disagree with the file, so it is
 * never replayed. Paths under ignored folders (the project's `.expops`, the
 * compile cache, the kernel's `/proc`, `/sys` and `/dev`) are the CLI's own
 * state or the process's, not inputs.
 *
 * Installed by `bin.ts` before the CLI's modules load. No `effect` import here.
 */
import { findPackageJSON, registerHooks, syncBuiltinESMExports } from "node:module"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { pathOf } from "@expops/core/FilePaths"
import { isBare, packageName } from "../specifiers.ts"
import * as State from "./state.ts"

type AnyFunction = (...args: Array<any>) => any

/** Path -> its recorded state (`State.recorded`). */
const paths = new Map<string, string>()
let ignored: ReadonlyArray<string> = []
let installed = false
let hooked = false
/**
 * Set when the run looked at something the watch cannot describe (a
 * recursive listing), or will leave no receipt anyway (it computes): nothing
 * more is noted.
 */
let incomplete = false
/** While set, the wrappers only forward: the watch's own looks, and `unwatched` bodies. */
let paused = false
let cwd = ""
let argv: ReadonlyArray<string> = []

const inside = (path: string, dir: string): boolean => path === dir || path.startsWith(dir + Path.sep)

const note = (path: string, kind: State.Kind) => {
  if (incomplete) return
  const known = paths.get(path)
  if (known !== undefined && !(kind === "listed" && known.startsWith("read "))) return
  if (ignored.some((dir) => inside(path, dir))) return
  const before = paused
  paused = true
  try {
    paths.set(path, State.recorded(path, kind))
  } finally {
    paused = before
  }
}

const READING = [
  "readFileSync", "statSync", "lstatSync", "existsSync", "accessSync", "openSync", "realpathSync", "opendirSync",
  "readFile", "stat", "lstat", "exists", "access", "open", "realpath", "createReadStream"
] as const
const LISTING = ["readdirSync", "readdir", "opendir"] as const
const PROMISED_READING = ["readFile", "stat", "lstat", "access", "open", "realpath"] as const
const PROMISED_LISTING = ["readdir", "opendir"] as const

const wrap = (target: Record<string, unknown>, name: string, kind: State.Kind) => {
  const original = target[name] as AnyFunction | undefined
  if (typeof original !== "function") return
  const wrapped = function(this: unknown, path: unknown, ...rest: Array<unknown>) {
    if (!paused && !incomplete) {
      const p = pathOf(path)
      if (p !== undefined) note(Path.resolve(p), kind)
      // A recursive listing depends on every folder below, which are not noted one by one.
      if (kind === "listed" && (rest[0] as { recursive?: unknown } | undefined)?.recursive === true) incomplete = true
    }
    return original.call(this, path, ...rest)
  }
  // `fs.realpathSync.native` and the like stay reachable.
  Object.assign(wrapped, original)
  target[name] = wrapped
}

/** The folder the CLI was started in. */
export const startedIn = (): string => cwd

/** The CLI's arguments. */
export const args = (): ReadonlyArray<string> => argv

/** Whether the watch has been on since the CLI started (`bin.ts`). */
export const isInstalled = (): boolean => installed

/** Stops noting: the run will leave no receipt. */
export const abandon = (): void => {
  incomplete = true
  paths.clear()
}

/** Whether everything the run looked at is described by `entries` (see `incomplete`). */
export const isComplete = (): boolean => !incomplete

/** Every path seen so far, with its state when first seen. */
export const entries = (): ReadonlyArray<readonly [path: string, state: string]> => [...paths]

/** Notes a path the watch could not see being used (a module loaded before it began). */
export const noteFile = (path: string): void => note(Path.resolve(path), "read")

/**
 * Runs `body` without noting what it looks at: for the CLI's own caches,
 * whose checks of files other projects use are not inputs of this run.
 */
export const unwatched = <A>(body: () => A): A => {
  const before = paused
  paused = true
  try {
    return body()
  } finally {
    paused = before
  }
}

/**
 * Notes modules loaded before the watch saw them resolve: `names` relative
 * to the module at `base`, without their extension (the one `base` has:
 * `.ts` run from source, `.js` built).
 */
export const noteModules = (base: string, names: ReadonlyArray<string>): void => {
  const extension = Path.extname(fileURLToPath(base))
  for (const name of names) noteFile(fileURLToPath(new URL(`${name}${extension}`, base)))
}

/**
 * Starts noting what `node:fs` is asked to read. Once per process. `ignore`:
 * folders whose paths are not inputs.
 */
export const install = (options: { readonly ignore: ReadonlyArray<string> }): void => {
  if (installed) return
  installed = true
  // The kernel's files (`/proc/self/stat`, ...) describe the process, not its inputs.
  ignored = [...options.ignore.map((dir) => Path.resolve(dir)), "/proc", "/sys", "/dev"]
  cwd = process.cwd()
  argv = process.argv.slice(2)
  const fs = process.getBuiltinModule("node:fs") as unknown as Record<string, unknown> & { promises: Record<string, unknown> }
  for (const name of READING) wrap(fs, name, "read")
  for (const name of LISTING) wrap(fs, name, "listed")
  for (const name of PROMISED_READING) wrap(fs.promises, name, "read")
  for (const name of PROMISED_LISTING) wrap(fs.promises, name, "listed")
  // Named ESM imports (`import { readFileSync } from "node:fs"`) see the wrappers from here on.
  syncBuiltinESMExports()
  if (process.argv[1] !== undefined) noteFile(process.argv[1])
  // This module and its imports were loaded before it began.
  noteModules(import.meta.url, ["./watch", "./state", "../specifiers"])
  noteFile(fileURLToPath(import.meta.resolve("@expops/core/FilePaths")))
}

const scopes = new Set<string>()

/** The `package.json` that decides the format of `file`, and for the user's files the absence of a nearer one. */
const noteScope = (file: string) => {
  const dir = Path.dirname(file)
  if (scopes.has(dir)) return
  scopes.add(dir)
  let manifest: string | undefined
  try {
    manifest = findPackageJSON(pathToFileURL(file))
  } catch {
    manifest = undefined
  }
  if (manifest !== undefined) note(manifest, "read")
  if (file.includes(`${Path.sep}node_modules${Path.sep}`)) return
  const top = manifest === undefined ? Path.parse(dir).root : Path.dirname(manifest)
  for (let at = dir; at !== top && Path.dirname(at) !== at; at = Path.dirname(at)) note(Path.join(at, "package.json"), "read")
}

const packagesSeen = new Set<string>()

/** The `node_modules/NAME` folders Node looks in for `specifier` from `from`, nearest first, to the one it finds. */
const notePackage = (from: string, specifier: string) => {
  const name = packageName(specifier)
  const key = `${from}\0${name}`
  if (packagesSeen.has(key)) return
  packagesSeen.add(key)
  for (let at = from; ; at = Path.dirname(at)) {
    if (Path.basename(at) !== "node_modules") {
      const folder = Path.join(at, "node_modules", name)
      note(folder, "link")
      if (paths.get(folder)?.startsWith("link ->") === true) return note(Path.join(folder, "package.json"), "read")
    }
    if (Path.dirname(at) === at) return
  }
}

/**
 * Starts noting every module Node resolves. Registered after the CLI's own
 * resolve hooks (`moduleMemo.ts`, `packages.ts`), so that it runs first and
 * sees their answers too.
 */
export const hookResolution = (): void => {
  if (!installed || hooked) return
  hooked = true
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const result = nextResolve(specifier, context)
      const parent = context.parentURL
      if (paused || incomplete || !result.url.startsWith("file:") || parent === undefined || !parent.startsWith("file:")) return result
      const file = fileURLToPath(result.url)
      const importer = fileURLToPath(parent)
      const from = Path.dirname(importer)
      note(file, "read")
      noteScope(file)
      noteScope(importer)
      if (isBare(specifier)) notePackage(from, specifier)
      else if ((specifier[0] === "." || specifier[0] === "/") && !from.includes(`${Path.sep}node_modules`)) {
        const joined = Path.resolve(from, specifier.split("?")[0]!)
        if (joined !== file) note(joined, "link")
      }
      return result
    }
  })
}
