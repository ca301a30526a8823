/**
 * Node's answers about where the CLI's modules are, kept from one start-up
 * to the next.
 *
 * Start-up is mostly Node's module loader, not the modules' own code. For
 * each of the ~1,700 imports of a cached `expops run`, Node resolves the
 * specifier (`stat`s, a `realpath`, for a package name its `package.json`
 * and `node_modules` folders up the tree), then decides the module's format
 * from the `package.json` that governs it. The answers depend only on the
 * file tree, so they are kept in one small file beside V8's compile cache and
 * reused while the files they depend on stay as they were:
 *
 * - every answer is kept with the `package.json` files it depends on (the
 *   one that decided the module's format; for a package name, the package's
 *   own, with its `exports`), each with its size, mtime and inode; when one
 *   changed (a package installed, upgraded or edited), what it decided is
 *   dropped before anything loads;
 * - for a package name, the `node_modules/NAME` folders Node looked in and
 *   did not find are kept too, and the answer is used only while they are
 *   still absent: a copy installed nearer the importer is found as Node would;
 * - a module is answered only while its file exists (one `stat` per module
 *   and process; inside `node_modules`, where files change with their
 *   `package.json`, none); when it is gone, Node resolves the import and
 *   reports it missing as it always does;
 * - a relative import whose module is reached through a symbolic link, and
 *   one with a query (a reload), are left to Node each time;
 * - the source is always read afresh: only where a module is and what
 *   format it has are remembered, never what it says;
 * - the memo holds for one Node version and one set of Node options
 *   (`--conditions` changes what a package name resolves to).
 *
 * Installed before `internal/packages.ts` hooks the resolver, so a project's
 * own copies of the shared packages are asked for from the project's folder
 * and kept as such. `EXPOPS_MODULE_MEMO=0` turns it off. No `effect` import
 * here: this runs before `effect` loads.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs"
import { findPackageJSON, getCompileCacheDir, registerHooks } from "node:module"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { isBare, packageName } from "./specifiers.ts"

/** A module: its format, and the index in `files` of the `package.json` that decided it. */
type ModuleAnswer = readonly [format: string, scope: number]

/**
 * A package name imported from a folder: the module, the index of the
 * package's `package.json`, and the `node_modules/NAME` folders that were not there.
 */
type PackageAnswer = readonly [url: string, manifest: number, absent: ReadonlyArray<string>]

interface Memo {
  readonly version: 3
  /** What changes resolution besides the files: Node's options. */
  readonly options: string
  /** The `package.json` files answers depend on, with their signatures when the answers were kept. */
  readonly files: ReadonlyArray<readonly [path: string, signature: string]>
  /** Module URL -> its answer. */
  readonly modules: Record<string, ModuleAnswer>
  /** `importer's folder \n conditions \n package specifier` -> its answer. */
  readonly packages: Record<string, PackageAnswer>
}

/** The formats kept; `module` sources are also read here rather than by Node's loader. */
const KEPT = new Set(["module", "module-typescript"])

/** More modules than any one machine's projects need: past it, the memo starts over. */
const MAX_MODULES = 10_000

const options = (): string => JSON.stringify([process.execArgv, process.env.NODE_OPTIONS ?? ""])

const signature = (file: string): string | undefined => {
  try {
    const stat = statSync(file, { bigint: true })
    return `${stat.size}:${stat.mtimeNs}:${stat.ino}`
  } catch {
    return undefined
  }
}

const empty = (): Memo => ({ version: 3, options: options(), files: [], modules: {}, packages: {} })

const read = (file: string): Memo => {
  try {
    const memo = JSON.parse(readFileSync(file, "utf8")) as Memo
    return memo.version === 3 && memo.options === options() && Array.isArray(memo.files) ? memo : empty()
  } catch {
    return empty()
  }
}

/** Replaced in one rename: processes starting at once read the old memo or the new one, never half of one. */
const write = (file: string, memo: Memo): void => {
  try {
    mkdirSync(Path.dirname(file), { recursive: true })
    const temp = `${file}.${process.pid}.tmp`
    const fd = openSync(temp, "w")
    try {
      writeSync(fd, JSON.stringify(memo))
    } finally {
      closeSync(fd)
    }
    renameSync(temp, file)
  } catch {
    // A memo that cannot be written costs the next start-up its speed, nothing else.
  }
}

/**
 * Where the memo lives: beside V8's compile cache (whose folder, one per
 * Node version, is inside the folder that holds this), one file per Node version.
 */
export const location = (): string => {
  const compileCache = getCompileCacheDir?.()
  const dir = compileCache === undefined ? Path.join(tmpdir(), "node-compile-cache") : Path.dirname(compileCache)
  return Path.join(dir, `expops-modules-${process.version}.json`)
}

/**
 * The `node_modules/NAME` folders Node looks in, from `dir` up, before the
 * one holding `manifest` (the found package's `package.json`); `undefined`
 * when the package was not found in a `node_modules` folder up the tree
 * (a package importing itself by name).
 */
const lookedIn = (dir: string, name: string, manifest: string): Array<string> | undefined => {
  const found = Path.dirname(manifest)
  const absent: Array<string> = []
  for (let at = dir; ; at = Path.dirname(at)) {
    if (Path.basename(at) !== "node_modules") {
      const candidate = Path.join(at, "node_modules", name)
      if (candidate === found) return absent
      absent.push(candidate)
    }
    if (Path.dirname(at) === at) return undefined
  }
}

/** What the memo did in this process, for tests and `--log-level debug`. */
export interface Stats {
  /** Imports answered from the memo. */
  answered: number
  /** Imports Node resolved (not kept, or kept now). */
  resolved: number
  /** Kept answers dropped because a file they depend on changed or is gone. */
  dropped: number
}

const counts: Stats = { answered: 0, resolved: 0, dropped: 0 }

export const stats = (): Stats => ({ ...counts })

/**
 * Installs the hooks. Kept answers are checked against the files they
 * depend on first; new ones are written when the process exits.
 */
export const install = (file: string = location()): void => {
  if (process.env.EXPOPS_MODULE_MEMO === "0") return
  const memo = read(file)
  /** `package.json` path -> its signature, for those unchanged since they were kept (and those seen now). */
  const files = new Map<string, string>()
  const unchanged = memo.files.map(([path, sig]) => signature(path) === sig)
  memo.files.forEach(([path, sig], i) => unchanged[i] && files.set(path, sig))
  const modules = new Map<string, readonly [format: string, scope: string]>()
  const packages = new Map<string, readonly [url: string, manifest: string, absent: ReadonlyArray<string>]>()
  let changed = false
  const drop = () => {
    counts.dropped++
    changed = true
  }
  for (const [url, [format, scope]] of Object.entries(memo.modules)) {
    if (unchanged[scope] === true) modules.set(url, [format, memo.files[scope]![0]])
    else drop()
  }
  for (const [key, [url, manifest, absent]] of Object.entries(memo.packages)) {
    if (unchanged[manifest] === true && modules.has(url)) packages.set(key, [url, memo.files[manifest]![0], absent])
    else drop()
  }
  /** Modules answered from the memo: their sources are read here. */
  const answered = new Set<string>()
  /** Folders found absent in this process. */
  const stillAbsent = new Set<string>()

  const isAbsent = (folder: string): boolean => {
    if (stillAbsent.has(folder)) return true
    if (existsSync(folder)) return false
    stillAbsent.add(folder)
    return true
  }

  /**
   * The kept format of `url`, while its file exists. Checked once per module
   * in a process (a module is imported by many), and not inside
   * `node_modules`, whose files change with their `package.json`.
   */
  const answer = (url: string) => {
    const kept = modules.get(url)
    if (kept === undefined) return undefined
    if (!answered.has(url)) {
      if (!url.includes("/node_modules/") && !existsSync(fileURLToPath(url))) {
        modules.delete(url)
        drop()
        return undefined
      }
      answered.add(url)
    }
    counts.answered++
    return { url, format: kept[0], shortCircuit: true }
  }

  /** Keeps the format of a module Node resolved; false when it is not kept. */
  const keep = (url: string, format: string | null | undefined): boolean => {
    if (format == null || !KEPT.has(format) || url.includes("?") || url.includes("#")) return false
    if (modules.has(url)) return true
    const scope = findPackageJSON(url)
    const sig = scope === undefined ? undefined : files.get(scope) ?? signature(scope)
    if (scope === undefined || sig === undefined) return false
    files.set(scope, sig)
    modules.set(url, [format, scope])
    changed = true
    return true
  }

  registerHooks({
    resolve(specifier, context, nextResolve) {
      const parent = context.parentURL
      if (parent === undefined || !parent.startsWith("file:") || parent.includes("?")) return nextResolve(specifier, context)
      if (specifier[0] === ".") {
        const url = new URL(specifier, parent).href
        const kept = answer(url)
        if (kept !== undefined) return kept
        counts.resolved++
        const resolved = nextResolve(specifier, context)
        // Reached through a symbolic link: Node follows it each time.
        if (resolved.url === url) keep(url, resolved.format)
        return resolved
      }
      if (!isBare(specifier)) return nextResolve(specifier, context)
      const dir = Path.dirname(fileURLToPath(parent))
      // `import` and `require` ask with other conditions, and a package's `exports` may answer each differently.
      const key = `${dir}\n${context.conditions.join(",")}\n${specifier}`
      const kept = packages.get(key)
      if (kept !== undefined) {
        const [url, , absent] = kept
        if (absent.every(isAbsent)) {
          const found = answer(url)
          if (found !== undefined) return found
        }
        packages.delete(key)
        drop()
      }
      counts.resolved++
      const resolved = nextResolve(specifier, context)
      if (resolved.url.startsWith("file:") && keep(resolved.url, resolved.format)) {
        const manifest = findPackageJSON(specifier, parent)
        const sig = manifest === undefined ? undefined : files.get(manifest) ?? signature(manifest)
        const absent = manifest === undefined ? undefined : lookedIn(dir, packageName(specifier), manifest)
        if (manifest !== undefined && sig !== undefined && absent !== undefined) {
          files.set(manifest, sig)
          packages.set(key, [resolved.url, manifest, absent])
          changed = true
        }
      }
      return resolved
    },
    load(url, context, nextLoad) {
      if (context.format !== "module" || !answered.has(url)) return nextLoad(url, context)
      try {
        return { format: "module", source: readFileSync(fileURLToPath(url)), shortCircuit: true }
      } catch {
        // Unreadable since it was resolved: Node's own loading says why.
        return nextLoad(url, context)
      }
    }
  })

  process.once("exit", () => {
    if (!changed) return
    if (modules.size > MAX_MODULES) return write(file, empty())
    const index = new Map<string, number>()
    const kept: Array<readonly [string, string]> = []
    const indexOf = (path: string): number => {
      let i = index.get(path)
      if (i === undefined) {
        i = kept.push([path, files.get(path)!]) - 1
        index.set(path, i)
      }
      return i
    }
    const outModules: Record<string, ModuleAnswer> = {}
    for (const [url, [format, scope]] of modules) outModules[url] = [format, indexOf(scope)]
    const outPackages: Record<string, PackageAnswer> = {}
    for (const [key, [url, manifest, absent]] of packages) outPackages[key] = [url, indexOf(manifest), absent]
    write(file, { version: 3, options: options(), files: kept, modules: outModules, packages: outPackages })
  })
}
