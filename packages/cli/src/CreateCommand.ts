/**
 * `expops create NAME [--template quickstart]`: a new project folder from a
 * template (the quick-start example).
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { parseDocument } from "yaml"
import { UsageError } from "./Errors.ts"
import * as Project from "./Project.ts"
import { WorkingDirectory } from "./WorkingDirectory.ts"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** Whether code in `dir` can already import `@expops/core`. */
const resolvesCore = (dir: string): boolean => {
  try {
    createRequire(Path.join(dir, "package.json")).resolve("@expops/core")
    return true
  } catch {
    return false
  }
}

/**
 * Where templates are looked for: inside the published package
 * (`templates/`, filled by `prepack`), then the repository's `examples/`.
 *
 * @since 0.1.0
 */
export const templateDirs = [Path.resolve(here, "../templates"), Path.resolve(here, "../../../examples")]

/** Files of the template that never belong in a new project. */
const SKIP = new Set([".expops", "node_modules", "dist"])

const packageVersion = (): string => {
  try {
    return JSON.parse(readFileSync(Path.resolve(here, "../package.json"), "utf8")).version as string
  } catch {
    return "0.1.0"
  }
}

const findTemplate = (name: string): string | undefined =>
  templateDirs.map((d) => Path.join(d, name)).find((d) => existsSync(Path.join(d, Project.CONFIG_FILE)))

/**
 * The template a template builds on, from its package.json
 * (`"expops": { "template": { "base": "quickstart" } }`): the fan-out example
 * reuses the quick start's modules by importing them from
 * `../../quickstart/src/`, rather than keeping copies.
 */
const baseOf = (source: string): string | undefined => {
  try {
    const base = JSON.parse(readFileSync(Path.join(source, "package.json"), "utf8"))?.expops?.template?.base
    return typeof base === "string" ? base : undefined
  } catch {
    return undefined
  }
}

/**
 * In a project made from a template with a base, the base's modules sit in
 * its own `src/`: imports of `../../BASE/src/X` from `src/` become `./X`
 * (one `../` fewer at every depth below).
 */
const rewriteBaseImports = (dir: string, base: string, depth = 0): void => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = Path.join(dir, entry.name)
    if (entry.isDirectory()) rewriteBaseImports(file, base, depth + 1)
    else if (/\.[cm]?tsx?$/.test(entry.name)) {
      const from = `${"../".repeat(depth + 2)}${base}/src/`
      const to = depth === 0 ? "./" : "../".repeat(depth)
      const text = readFileSync(file, "utf8")
      const next = text.replaceAll(`"${from}`, `"${to}`).replaceAll(`'${from}`, `'${to}`)
      if (next !== text) writeFileSync(file, next)
    }
  }
}

const handler = Effect.fn("expops.create")(function*({ name, template }: { readonly name: string; readonly template: string }) {
  const source = findTemplate(template)
  if (source === undefined) {
    const known = [...new Set(templateDirs.flatMap((d) => (existsSync(d) ? readdirSync(d) : [])))]
    return yield* new UsageError({ message: `no template ${template} (templates: ${known.join(", ") || "none found"})` })
  }
  const target = Path.resolve((yield* WorkingDirectory).path, name)
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) return yield* new UsageError({ message: `${name} exists and is not a folder` })
    if (readdirSync(target).length > 0) return yield* new UsageError({ message: `${name} is not empty; choose a new folder name` })
  }
  const projectName = Path.basename(target).replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "") || "project"
  const base = baseOf(source)
  const baseSource = base !== undefined ? findTemplate(base) : undefined
  if (base !== undefined && baseSource === undefined) {
    return yield* new UsageError({ message: `template ${template} builds on template ${base}, which is not installed` })
  }
  yield* Effect.try({
    try: () => {
      const copy = { recursive: true, dereference: true, filter: (src: string) => !SKIP.has(Path.basename(src)) }
      // A template with a base: the base's files first, the template's own over them.
      if (baseSource !== undefined) cpSync(baseSource, target, copy)
      cpSync(source, target, copy)
      if (base !== undefined && existsSync(Path.join(target, "src"))) rewriteBaseImports(Path.join(target, "src"), base)
      // npm drops `.gitignore` from published packages, so the packed template carries it as `gitignore`.
      if (existsSync(Path.join(target, "gitignore"))) renameSync(Path.join(target, "gitignore"), Path.join(target, ".gitignore"))
      const version = packageVersion()
      const pkgFile = Path.join(target, "package.json")
      const pkg = existsSync(pkgFile) ? JSON.parse(readFileSync(pkgFile, "utf8")) : {}
      pkg.name = projectName.toLowerCase()
      pkg.private = true
      pkg.type = "module"
      pkg.dependencies = { ...pkg.dependencies, "@expops/core": `^${version}`, effect: pkg.dependencies?.effect ?? "^4.1.0" }
      pkg.devDependencies = { ...pkg.devDependencies, "@expops/cli": `^${version}` }
      // The project holds its base's files itself now.
      delete pkg.expops
      writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + "\n")
      const configFile = Path.join(target, Project.CONFIG_FILE)
      const doc = parseDocument(readFileSync(configFile, "utf8"))
      doc.setIn(["metadata", "name"], projectName)
      writeFileSync(configFile, doc.toString())
    },
    catch: (cause) => new UsageError({ message: `cannot create ${name}: ${(cause as Error).message}`, cause })
  })
  // Inside a checkout of the ExpOps repository (or any folder whose
  // node_modules already hold @expops/core), the project runs as it is; npm
  // would look for the packages on the registry, where they are not yet.
  const next = resolvesCore(target)
    ? [`  npx expops run ${name}        # @expops/core and effect come from the enclosing node_modules`]
    : [`  cd ${name}`, "  npm install", "  npx expops run ."]
  yield* Console.log([`created ${name} from the ${template} template`, "", "next:", ...next].join("\n"))
})

/**
 * @since 0.1.0
 */
export const command = Command.make("create", {
  name: Argument.String("name").pipe(Argument.withDescription("The folder to create (it must not exist, or be empty)")),
  template: Flag.String("template").pipe(
    Flag.withDefault("quickstart"),
    Flag.withDescription("The template to start from: quickstart, or fanout (seed and data parallelism)")
  )
}, handler).pipe(
  Command.withDescription("Create a new project folder from a template. Refuses a folder that is not empty (exit code 2)."),
  Command.withExamples([
    { command: "expops create my-project", description: "A new project from the quick-start template" },
    { command: "expops create my-project --template quickstart", description: "The same, naming the template" },
    { command: "expops create my-study --template fanout", description: "The classifier over seeds and data partitions, aggregated" }
  ])
)
