/**
 * A project folder: its config file, read with `yaml` and decoded with the
 * core `ProjectConfig` schema, its pipeline module and its data file.
 *
 * Every problem is reported with the file, and where the parser knows it the
 * line and the path in the document, so the user can go straight to it.
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import * as Path from "node:path"
import { CodeFingerprint, DataFile, Pipeline, ProjectConfig } from "@expops/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { ProjectError, UsageError } from "./Errors.ts"
import * as ConfigDocument from "./internal/configDocument.ts"
import { importFresh } from "./internal/importFresh.ts"
import * as LoadFailure from "./internal/loadFailure.ts"
import * as Packages from "./internal/packages.ts"
import { WorkingDirectory } from "./WorkingDirectory.ts"

/**
 * Where the config file lives inside a project folder.
 *
 * @since 0.1.0
 */
export const CONFIG_FILE = "configs/project_config.yaml"

/**
 * @since 0.1.0
 */
export interface Project {
  /** Absolute path of the project folder. */
  readonly dir: string
  /** The directory the command was given in (`WorkingDirectory`): messages name files relative to it. */
  readonly cwd: string
  /** Absolute path of the config file. */
  readonly configFile: string
  readonly config: ProjectConfig.ProjectConfig
  /** Line (1-based) of a path in the config document, or of its nearest ancestor that is there. */
  readonly lineOf: (path: ReadonlyArray<string | number>) => number | undefined
  /** Whether the config document has a value at a path (as written: `experiment`, not `model`, if the file says so). */
  readonly has: (path: ReadonlyArray<string | number>) => boolean
  /**
   * Keeps the parsed config document for the next command (see
   * `configDocumentFile`); called once the project is known to be valid,
   * since a bad config writes nothing.
   */
  readonly keep: () => void
}

/**
 * A path as the user would type it: relative to the directory the command
 * was given in (`from.cwd`, a project's) when that is shorter, absolute
 * otherwise.
 *
 * @since 0.1.0
 */
export const display = (from: { readonly cwd: string }, absolute: string): string => {
  const relative = Path.relative(from.cwd, absolute)
  return relative === "" ? "." : relative.startsWith("..") || Path.isAbsolute(relative) ? absolute : relative
}

/**
 * Resolves the project folder given on the command line against the
 * working directory, checking that it holds a config file.
 *
 * @since 0.1.0
 */
export const resolveDir = Effect.fnUntraced(function*(dir: string) {
  const cwd = yield* WorkingDirectory
  const absolute = Path.resolve(cwd.path, dir)
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    return yield* new UsageError({ message: `${dir}: no such project folder` })
  }
  if (!existsSync(Path.join(absolute, CONFIG_FILE))) {
    return yield* new UsageError({ message: `${dir}: not an ExpOps project (no ${CONFIG_FILE} in it)` })
  }
  return absolute
})

/**
 * Reads and decodes the config file of a project folder. Malformed YAML is
 * reported with its line; schema problems as a `ConfigError` naming each
 * path, its line, and for unknown keys the nearest valid key. The parsed
 * document of a valid config is kept in `configDocumentFile` (see
 * `internal/configDocument.ts`), so an unchanged file is not parsed again.
 *
 * @since 0.1.0
 */
export const load = Effect.fn("Project.load")(function*(dir: string) {
  const absolute = yield* resolveDir(dir)
  const cwd = (yield* WorkingDirectory).path
  const configFile = Path.join(absolute, CONFIG_FILE)
  const file = display({ cwd }, configFile)
  const text = yield* Effect.try({
    try: () => readFileSync(configFile, "utf8"),
    catch: (cause) => new ProjectError({ file, reason: `cannot read: ${(cause as Error).message}`, cause })
  })
  const read = yield* Effect.promise(() => ConfigDocument.read(text, configDocumentFile(absolute)))
  if (!("document" in read)) {
    return yield* new ProjectError({ file, ...(read.line !== undefined ? { line: read.line } : {}), reason: `malformed YAML: ${read.reason}` })
  }
  const { lineOf, has, value } = read.document
  const config = yield* ProjectConfig.decode(value, { file, lineOf })
  return { dir: absolute, cwd, configFile, config, lineOf, has, keep: read.keep } satisfies Project
})

/**
 * A located error about a key of the config file.
 *
 * @since 0.1.0
 */
export const errorAt = (project: Project, path: ReadonlyArray<string | number>, reason: string, cause?: unknown): ProjectError => {
  const shown = project.config.modelKey === "experiment" && path[0] === "model" ? ["experiment", ...path.slice(1)] : path
  // A key the file leaves out has no line of its own.
  const line = project.has(shown) ? project.lineOf(shown) : undefined
  return new ProjectError({
    file: display(project, project.configFile),
    ...(line !== undefined ? { line } : {}),
    path: shown.join("."),
    reason,
    ...(cause === undefined ? {} : { cause })
  })
}

const describeValue = (value: unknown): string => {
  if (value === null) return "null"
  if (value === undefined) return "undefined"
  if (typeof value === "function") return `a function${value.name ? ` (${value.name})` : ""}`
  if (Array.isArray(value)) return "an array"
  if (typeof value === "object") {
    const keys = Object.keys(value)
    return `an object${keys.length > 0 ? ` with keys ${keys.slice(0, 6).join(", ")}` : ""}`
  }
  return `${typeof value} ${JSON.stringify(value)}`
}

/**
 * Where the parsed config document is kept between commands, keyed by the
 * file's content.
 *
 * @since 0.1.0
 */
export const configDocumentFile = (dir: string): string => Path.join(dir, ".expops", "config-document.bin")

/**
 * Where the analyses of the project's source files are kept between runs,
 * keyed by each file's content digest, so that unchanged files are not parsed.
 *
 * @since 0.1.0
 */
export const codeIndexFile = (project: Project): string => Path.join(project.dir, ".expops", "code-index.json")

/**
 * Where a project keeps the digests of its data file and traced files by
 * their signatures, for the next run (`Trace.keepDigests`).
 *
 * @since 0.1.0
 */
export const fileDigestsFile = (project: Project): string => Path.join(project.dir, ".expops", "file-digests.bin")

/**
 * Makes the project's code load the same `effect` and `@expops/*` as the
 * CLI (see `internal/packages.ts`): the CLI's where the project has none,
 * the project's where the executable adopted them. A copy that cannot be
 * shared is an error, before any of the project's code runs.
 */
const sharePackages = Effect.fnUntraced(function*(project: Project) {
  Packages.install()
  const shown = (path: string) => display(project, path)
  const verdicts = Packages.survey(project.dir)
  for (const verdict of verdicts) {
    if (verdict._tag === "Incompatible") return yield* new UsageError({ message: Packages.describeIncompatible(verdict, shown) })
    if (verdict._tag === "Own") {
      return yield* new UsageError({
        message: `the project has its own ${verdict.name} ${verdict.copy.version} (${shown(verdict.copy.dir)}), but this process ` +
          `has already loaded ${verdict.name} ${verdict.cli.version} (${shown(verdict.cli.dir)}), and two copies cannot share ` +
          "services and schemas: run the project with the expops executable, which loads the project's copies"
      })
    }
  }
  CodeFingerprint.fallbackPackages(Packages.fallbacks(verdicts))
})

/**
 * Imports the module named by `scripts.main` and returns its default export,
 * which must be a Pipeline (made with `Pipeline.make`), with what the code
 * fingerprints of its steps and processes said (see `CodeFingerprint`) and
 * its export `layer`, if it has one: a Layer `expops run` provides to every
 * body. A project loaded again in the same process is imported afresh,
 * edits included.
 *
 * Fingerprints are of the text Node loaded, relative to the project folder.
 * The analyses are kept in `codeIndexFile` by `CodeFingerprint.flush()`, which
 * the caller calls once the project is known to be valid (a bad config writes
 * nothing).
 *
 * @since 0.1.0
 */
export const importPipeline = Effect.fn("Project.importPipeline")(function*(project: Project) {
  const main = project.config.main
  const modulePath = Path.resolve(project.dir, main)
  const at = (reason: string, cause?: unknown) => errorAt(project, ["scripts", "main"], reason, cause)
  const given = project.has(["scripts", "main"]) ? "" : ` (the default; set scripts.main to change it)`
  if (!existsSync(modulePath) || !statSync(modulePath).isFile()) {
    return yield* at(`${main}${given}: no such file (looked for ${display(project, modulePath)})`)
  }
  yield* sharePackages(project)
  CodeFingerprint.configure({ root: project.dir, indexFile: codeIndexFile(project) })
  CodeFingerprint.recordLoadedSources()
  const module = yield* Effect.tryPromise({
    try: () => importFresh(modulePath, project.dir),
    catch: (cause) => {
      // In the user's code when it is there (a syntax error, a throw at load); else about the entry module.
      const located = LoadFailure.locate(modulePath, cause)
      if (located === undefined) return at(`${main}: cannot be loaded: ${String((cause as Error)?.message ?? cause).split("\n")[0]}`, cause)
      const frames = located.stack?.split("\n").slice(1) ?? []
      return new ProjectError({
        file: display(project, located.file),
        line: located.line,
        ...(located.column !== undefined ? { column: located.column } : {}),
        reason: [located.reason, ...frames].join("\n"),
        cause
      })
    }
  })
  const diagnostics = CodeFingerprint.takeDiagnostics()
  if (!("default" in module) || module.default === undefined) {
    const names = Object.keys(module)
    return yield* at(
      `${main} has no default export; it must \`export default\` a Pipeline made with Pipeline.make` +
        ` (found exports: ${names.length > 0 ? names.join(", ") : "none"})`
    )
  }
  if (!Pipeline.isPipeline(module.default)) {
    return yield* at(
      `the default export of ${main} must be a Pipeline made with Pipeline.make, found ${describeValue(module.default)}`
    )
  }
  // Services for every body: an exported `layer`, beside the pipeline's own.
  const layer = module.layer
  if (layer !== undefined && !Layer.isLayer(layer)) {
    return yield* at(`the export \`layer\` of ${main} must be a Layer providing the services the steps need, found ${describeValue(layer)}`)
  }
  return { pipeline: module.default as Pipeline.Pipeline<never>, diagnostics, layer: layer as Layer.Layer<any, unknown, never> | undefined }
})

/**
 * The project's data file (`data.path`) and its digest, when one is
 * configured. A missing file is a config error at `data.path`.
 *
 * @since 0.1.0
 */
export const dataFile = Effect.fn("Project.dataFile")(function*(project: Project) {
  const path = project.config.dataPath
  if (path === undefined) return undefined
  const absolute = Path.resolve(project.dir, path)
  const digest = yield* DataFile.digest(absolute).pipe(
    Effect.mapError((error) => errorAt(project, ["data", "path"], `${path}: ${error.reason} (looked for ${display(project, absolute)})`, error))
  )
  return { path, digest }
})
