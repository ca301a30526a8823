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

const handler = Effect.fn("expops.create")(function*({ name, template }: { readonly name: string; readonly template: string }) {
  const source = templateDirs.map((d) => Path.join(d, template)).find((d) => existsSync(Path.join(d, Project.CONFIG_FILE)))
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
  yield* Effect.try({
    try: () => {
      cpSync(source, target, { recursive: true, filter: (src) => !SKIP.has(Path.basename(src)) })
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
  template: Flag.String("template").pipe(Flag.withDefault("quickstart"), Flag.withDescription("The template to start from"))
}, handler).pipe(
  Command.withDescription("Create a new project folder from a template. Refuses a folder that is not empty (exit code 2)."),
  Command.withExamples([
    { command: "expops create my-project", description: "A new project from the quick-start template" },
    { command: "expops create my-project --template quickstart", description: "The same, naming the template" }
  ])
)
