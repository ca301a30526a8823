/**
 * Where an import leads: a source file of the user's (followed into), an
 * installed package (counted by its version), or a builtin (by name).
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs"
import { createRequire, isBuiltin } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export type Target =
  | { readonly _tag: "File"; readonly path: string }
  | { readonly _tag: "Package"; readonly name: string; readonly version: string }
  | { readonly _tag: "Builtin"; readonly name: string }
  | { readonly _tag: "Unresolved"; readonly specifier: string }

/** A target as one string, to compare a resolution made now with one made before. */
export const targetKey = (target: Target): string => {
  switch (target._tag) {
    case "File":
      return `file ${target.path}`
    case "Package":
      return `package ${target.name}@${target.version}`
    case "Builtin":
      return `builtin ${target.name}`
    case "Unresolved":
      return `unresolved ${target.specifier}`
  }
}

const isFile = (path: string): boolean => {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** `./x.js` names `./x.ts` in TypeScript sources; Node 24 wants the real extension, but both are seen. */
const candidates = (path: string): Array<string> => {
  const out = [path]
  const swapped = path.replace(/\.(m|c)?js$/, (_, m: string | undefined) => `.${m ?? ""}ts`)
  if (swapped !== path) out.push(swapped)
  if (!/\.[mc]?[jt]sx?$/.test(path)) out.push(`${path}.ts`, `${path}.js`, Path.join(path, "index.ts"), Path.join(path, "index.js"))
  return out
}

/** `@scope/name/sub` -> `@scope/name`; `name/sub` -> `name`. */
export const packageName = (specifier: string): string => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!
}

/** Packages whose own version is the thing to count even when linked from source: the framework itself. */
const countedByVersion = (name: string): boolean => name.startsWith("@expops/")

const packages = new Map<string, Target>()
const linkedDigests = new Map<string, string>()

/**
 * Packages the module loader gives modules that have no copy of their own
 * (the CLI's hooks, for a project outside any node_modules): name -> folder.
 */
const fallbacks = new Map<string, string>()

/** Sets the packages the loader falls back to (see `fallbacks`). */
export const setFallbacks = (dirs: Readonly<Record<string, string>>): void => {
  const next = Object.entries(dirs)
  if (next.length === fallbacks.size && next.every(([name, dir]) => fallbacks.get(name) === dir)) return
  fallbacks.clear()
  for (const [name, dir] of next) fallbacks.set(name, dir)
  resolved.clear()
  packages.clear()
}

/** A digest of a package linked from source (a workspace): its version does not move when it is edited. */
const linkedDigest = (dir: string): string => {
  const known = linkedDigests.get(dir)
  if (known !== undefined) return known
  const hash = createHash("sha256")
  const visit = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue
      const path = Path.join(folder, entry.name)
      if (entry.isDirectory()) visit(path)
      else if (entry.isFile() && /\.([mc]?[jt]sx?|json)$/.test(entry.name)) {
        hash.update(Path.relative(dir, path)).update("\0").update(readFileSync(path)).update("\0")
      }
    }
  }
  visit(dir)
  const digest = hash.digest("hex").slice(0, 32)
  linkedDigests.set(dir, digest)
  return digest
}

/** The package installed at `root`, counted by its version (or, linked from source, by its source). */
const packageAt = (name: string, root: string): Target => {
  let version = "unknown"
  try {
    version = String(JSON.parse(readFileSync(Path.join(root, "package.json"), "utf8")).version ?? "unknown")
  } catch {
    // An unreadable package.json still names the package; the version stays unknown.
  }
  const real = realpathSync(root)
  const linked = !real.split(Path.sep).includes("node_modules") && !countedByVersion(name)
  return { _tag: "Package", name, version: linked ? `source ${linkedDigest(real)}` : version }
}

/**
 * The installed package a bare specifier names, as Node would find it from
 * `from`'s folder; when no folder up from there has it, the one the loader
 * falls back to (see `fallbacks`).
 */
const resolvePackage = (from: string, specifier: string): Target => {
  const name = packageName(specifier)
  let dir = Path.dirname(from)
  for (;;) {
    const key = `${dir}\0${name}`
    const known = packages.get(key)
    if (known !== undefined) return known
    const root = Path.join(dir, "node_modules", name)
    if (existsSync(Path.join(root, "package.json"))) {
      const target = packageAt(name, root)
      packages.set(key, target)
      return target
    }
    const parent = Path.dirname(dir)
    if (parent === dir) {
      const fallback = fallbacks.get(name)
      return fallback !== undefined && existsSync(Path.join(fallback, "package.json"))
        ? packageAt(name, fallback)
        : { _tag: "Unresolved", specifier }
    }
    dir = parent
  }
}

const resolved = new Map<string, Target>()

/**
 * Resolves `specifier` imported from the file `from`. Remembered for the
 * life of the process: one run sees one layout of its files and packages.
 */
export const resolve = (from: string, specifier: string): Target => {
  const key = `${from}\0${specifier}`
  let target = resolved.get(key)
  if (target === undefined) {
    target = resolveUncached(from, specifier)
    resolved.set(key, target)
  }
  return target
}

const resolveUncached = (from: string, specifier: string): Target => {
  if (specifier.startsWith("node:") || isBuiltin(specifier)) {
    return { _tag: "Builtin", name: specifier.startsWith("node:") ? specifier : `node:${specifier}` }
  }
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("file:")) {
    const base = specifier.startsWith("file:") ? fileURLToPath(specifier) : Path.resolve(Path.dirname(from), specifier)
    for (const path of candidates(base)) if (isFile(path)) return { _tag: "File", path }
    return { _tag: "Unresolved", specifier }
  }
  if (specifier.startsWith("#")) {
    // Subpath imports (package.json "imports"): let Node's resolver map them.
    try {
      const path = createRequire(from).resolve(specifier)
      return path.split(Path.sep).includes("node_modules") ? { _tag: "Unresolved", specifier } : { _tag: "File", path }
    } catch {
      return { _tag: "Unresolved", specifier }
    }
  }
  return resolvePackage(from, specifier)
}

/** Forgets what was resolved (packages may have been installed or upgraded since). */
export const reset = (): void => {
  resolved.clear()
  packages.clear()
  linkedDigests.clear()
}
