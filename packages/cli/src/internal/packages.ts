/**
 * The packages a project's code shares with the CLI: `effect`, the
 * `@expops/*` packages and `@effect/platform-node`. One instance of each
 * must be loaded, or a service the CLI provides is not the one a step asks
 * for and a schema of one copy is not understood by the other.
 *
 * - A project that has none installed (a folder anywhere on disk) gets the
 *   CLI's: a resolve hook answers its imports from the CLI's own folder when
 *   Node finds nothing from the project's.
 * - A project with its own compatible copies gets those, and so does the CLI:
 *   `adopt`, run by the executable before the CLI's own modules load,
 *   resolves every import of those names from the project's folder.
 * - An incompatible copy is an error naming both versions.
 *
 * No `effect` import here: the executable runs this before deciding which
 * `effect` to load.
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs"
import { findPackageJSON, registerHooks } from "node:module"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { isBare, packageName } from "./specifiers.ts"

/** The packages shared with a project's code. */
export const SHARED: ReadonlyArray<string> = ["effect", "@effect/platform-node", "@expops/core", "@expops/backend-local", "@expops/backend-gcs"]

const shared: ReadonlySet<string> = new Set(SHARED)

/** An installed copy of a package. */
export interface Copy {
  readonly name: string
  readonly version: string
  /** The package's folder, symbolic links resolved: two copies are one when their folders are. */
  readonly dir: string
}

const readCopy = (packageJson: string): Copy | undefined => {
  try {
    const manifest = JSON.parse(readFileSync(packageJson, "utf8")) as { name?: unknown; version?: unknown }
    if (typeof manifest.name !== "string") return undefined
    return { name: manifest.name, version: String(manifest.version ?? "0.0.0"), dir: realpathSync(Path.dirname(packageJson)) }
  } catch {
    return undefined
  }
}

/** The package `name` whose folder holds `file` (nested package.json files without that name are skipped). */
const copyHolding = (file: string, name: string): Copy | undefined => {
  for (let dir = Path.dirname(file); ; dir = Path.dirname(dir)) {
    const manifest = Path.join(dir, "package.json")
    if (existsSync(manifest)) {
      const copy = readCopy(manifest)
      if (copy?.name === name) return copy
    }
    if (Path.dirname(dir) === dir) return undefined
  }
}

/** The copy Node resolves `name` to from `base` (a file URL), without the hooks. */
const resolveFrom = (name: string, base: string): Copy | undefined => {
  try {
    const manifest = findPackageJSON(name, base)
    return manifest === undefined ? undefined : readCopy(manifest)
  } catch {
    return undefined
  }
}

/** Where this module is: imports resolved from here find the CLI's own copies. */
const here = import.meta.url

/** The CLI's own copy of `name`: the one Node finds from the CLI's folder. */
export const cliCopy = (name: string): Copy | undefined => resolveFrom(name, here)

/** The copy a project's own code would get from its folder with Node's plain resolution, if it has one. */
export const projectCopy = (name: string, projectDir: string): Copy | undefined =>
  resolveFrom(name, pathToFileURL(Path.join(projectDir, "package.json")).href)

/** The range of versions of `name` the CLI works with: its declared dependency range, else `^` its own version. */
const rangeOf = (name: string, own: Copy): string => {
  const manifest = copyHolding(fileURLToPath(here), "@expops/cli")
  if (manifest !== undefined) {
    const pkg = JSON.parse(readFileSync(Path.join(manifest.dir, "package.json"), "utf8")) as Record<string, Record<string, string> | undefined>
    const declared = pkg.dependencies?.[name] ?? pkg.peerDependencies?.[name]
    if (declared !== undefined && /^\^?\d+\.\d+\.\d+$/.test(declared)) return declared.startsWith("^") ? declared : `^${declared}`
  }
  return `^${own.version}`
}

const parts = (version: string): [number, number, number] => {
  const [major = 0, minor = 0, patch = 0] = version.replace(/[-+].*$/, "").split(".").map(Number)
  return [major, minor, patch]
}

/**
 * Whether `version` satisfies a caret range `^x.y.z` (as npm reads it: the
 * same major version, or for 0.x the same minor, and not older).
 */
export const satisfies = (version: string, range: string): boolean => {
  const [major, minor, patch] = parts(version)
  const [rMajor, rMinor, rPatch] = parts(range.replace(/^\^/, ""))
  if (major !== rMajor || (rMajor === 0 && minor !== rMinor)) return false
  return minor > rMinor || (minor === rMinor && patch >= rPatch)
}

/** What a project's copy of a shared package means for a run. */
export type Verdict =
  | { readonly _tag: "Shared"; readonly name: string; readonly copy: Copy }
  | { readonly _tag: "Fallback"; readonly name: string; readonly copy: Copy }
  | { readonly _tag: "Own"; readonly name: string; readonly copy: Copy; readonly cli: Copy }
  | { readonly _tag: "Incompatible"; readonly name: string; readonly copy: Copy; readonly cli: Copy; readonly range: string }

/**
 * For each shared package: does the project have its own copy, and can it be
 * used in place of the CLI's?
 */
export const survey = (projectDir: string): ReadonlyArray<Verdict> =>
  SHARED.flatMap((name): Array<Verdict> => {
    const copy = projectCopy(name, projectDir)
    // Adopted by the executable: the CLI runs on the project's copy.
    if (copy !== undefined && state.adopted.has(name)) return [{ _tag: "Shared", name, copy }]
    const cli = cliCopy(name)
    if (cli === undefined) return []
    if (copy === undefined) return [{ _tag: "Fallback", name, copy: cli }]
    if (copy.dir === cli.dir) return [{ _tag: "Shared", name, copy }]
    const range = rangeOf(name, cli)
    return satisfies(copy.version, range) ? [{ _tag: "Own", name, copy, cli }] : [{ _tag: "Incompatible", name, copy, cli, range }]
  })

/** An incompatible copy in words, naming both versions and what to do. */
export const describeIncompatible = (verdict: Extract<Verdict, { _tag: "Incompatible" }>, shown: (path: string) => string): string =>
  `the project has ${verdict.name} ${verdict.copy.version} (${shown(verdict.copy.dir)}), but expops works with ` +
  `${verdict.name} ${verdict.range} (its own is ${verdict.cli.version}, in ${shown(verdict.cli.dir)}): install a version ` +
  `in that range in the project (npm install ${verdict.name}@${verdict.range}), or remove the project's copy to use expops's own`

interface State {
  hooked: boolean
  /** Package name -> a URL inside the project folder: imports of it resolve from there. */
  readonly adopted: Map<string, string>
}

// One state per process, even if this module is loaded twice (the executable's and a test's copy).
const state: State = ((globalThis as Record<symbol, unknown>)[Symbol.for("@expops/cli/SharedPackages")] ??= {
  hooked: false,
  adopted: new Map()
}) as State

/**
 * Hooks Node's resolver (once per process): an adopted package resolves
 * from the project's folder whoever imports it; a shared package Node cannot
 * find from where it is imported resolves to the CLI's copy.
 */
export const install = (): void => {
  if (state.hooked) return
  state.hooked = true
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (!isBare(specifier)) return nextResolve(specifier, context)
      const name = packageName(specifier)
      const adopted = state.adopted.get(name)
      if (adopted !== undefined) return nextResolve(specifier, { ...context, parentURL: adopted })
      if (!shared.has(name)) return nextResolve(specifier, context)
      try {
        return nextResolve(specifier, context)
      } catch (error) {
        if ((error as { code?: unknown })?.code !== "ERR_MODULE_NOT_FOUND") throw error
        return nextResolve(specifier, { ...context, parentURL: here })
      }
    }
  })
}

/**
 * The folders of the CLI's copies that a project without its own gets, for
 * code fingerprints to count the version that is loaded.
 */
export const fallbacks = (verdicts: ReadonlyArray<Verdict>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const verdict of verdicts) if (verdict._tag === "Fallback") out[verdict.name] = verdict.copy.dir
  return out
}

/** The folder of a project named on the command line: the first argument that is one. */
const projectArgument = (args: ReadonlyArray<string>, cwd: string): string | undefined => {
  for (const arg of args.slice(1)) {
    if (arg.startsWith("-")) continue
    const dir = Path.resolve(cwd, arg)
    try {
      if (statSync(dir).isDirectory() && existsSync(Path.join(dir, "configs", "project_config.yaml"))) return dir
    } catch {
      // Not a folder: a flag's value, a process name.
    }
  }
  return undefined
}

/**
 * Run by the executable before the CLI's modules load: for `expops run DIR`,
 * adopts the project's own compatible copies of the shared packages, so that
 * the CLI loads the same ones as the project. Answers an error message when
 * a copy is incompatible.
 */
export const adopt = (args: ReadonlyArray<string>, cwd: string): string | undefined => {
  if (args[0] !== "run") return undefined
  const dir = projectArgument(args, cwd)
  if (dir === undefined) return undefined
  const verdicts = survey(dir)
  const incompatible = verdicts.find((v) => v._tag === "Incompatible")
  if (incompatible !== undefined) return describeIncompatible(incompatible, (path) => path)
  const base = pathToFileURL(Path.join(dir, "package.json")).href
  for (const verdict of verdicts) if (verdict._tag === "Own") state.adopted.set(verdict.name, base)
  if (state.adopted.size > 0) install()
  return undefined
}
