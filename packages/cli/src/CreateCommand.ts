/**
 * `expops create NAME [--template quickstart]`: a new project folder from a
 * template (the quick-start example), anywhere on disk.
 *
 * Where the new folder's code can already import `@expops/core` (inside a
 * checkout of ExpOps, or a folder that installed it), it runs as it is.
 * Elsewhere, a CLI running from a checkout links the packages the project
 * needs into its `node_modules` (they are not on the npm registry yet), so
 * that it runs, type-checks and opens in an editor with its types; an
 * installed CLI leaves that to `npm install`.
 *
 * @since 0.1.0
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { parseDocument } from "yaml"
import { UsageError } from "./Errors.ts"
import * as Project from "./Project.ts"
import { WorkingDirectory } from "./WorkingDirectory.ts"

const here = Path.dirname(fileURLToPath(import.meta.url))

/** The folder of the `@expops/cli` package this module belongs to (src/ and dist/ are inside it). */
const cliDir = realpathSync(Path.resolve(here, ".."))

/** Whether code in `dir` can already import `@expops/core`. */
const resolvesCore = (dir: string): boolean => {
  try {
    createRequire(Path.join(dir, "package.json")).resolve("@expops/core")
    return true
  } catch {
    return false
  }
}

/** Whether this CLI runs from a checkout of ExpOps (not from a `node_modules`, where npm put a published copy). */
const fromCheckout = !cliDir.split(Path.sep).includes("node_modules")

/**
 * Where templates are looked for: in a checkout, the repository's
 * `examples/`; in the published package, `templates/` (filled by `prepack`).
 *
 * @since 0.1.0
 */
export const templateDirs = fromCheckout
  ? [Path.resolve(here, "../../../examples"), Path.resolve(here, "../templates")]
  : [Path.resolve(here, "../templates"), Path.resolve(here, "../../../examples")]

/**
 * The names of the templates there are.
 *
 * @since 0.1.0
 */
export const templates = (): ReadonlyArray<string> =>
  [...new Set(templateDirs.flatMap((d) => (existsSync(d) ? readdirSync(d) : [])))]
    .filter((name) => templateDirs.some((d) => existsSync(Path.join(d, name, Project.CONFIG_FILE))))
    .sort()

/** The templates for `--help`: the default first, each with what it shows when that is not plain. */
const describeTemplates = (): string =>
  [...templates()]
    .sort((a, b) => (a === "quickstart" ? -1 : b === "quickstart" ? 1 : a < b ? -1 : 1))
    .map((name) => (name === "fanout" ? "fanout (seed and data parallelism)" : name))
    .join(", ")

/** Files of the template that never belong in a new project. */
const SKIP = new Set([".expops", "node_modules", "dist"])

const packageVersion = (): string => JSON.parse(readFileSync(Path.join(cliDir, "package.json"), "utf8")).version as string

/** The installed package `name` as Node would find it from the CLI's folder, or undefined. */
const installedFromCli = (name: string): string | undefined => {
  if (name === "@expops/cli") return cliDir
  for (let dir = cliDir; ; dir = Path.dirname(dir)) {
    const candidate = Path.join(dir, "node_modules", name)
    if (existsSync(Path.join(candidate, "package.json"))) return realpathSync(candidate)
    if (Path.dirname(dir) === dir) return undefined
  }
}

/**
 * What a project made from a checkout links to: what its code imports, what
 * type-checking it needs, the CLI and the Node it runs on. With the
 * commands they provide, as npm would link them into `node_modules/.bin`.
 */
const LINKED: ReadonlyArray<{ readonly name: string; readonly bins?: Readonly<Record<string, string>> }> = [
  { name: "@expops/core" },
  { name: "@expops/cli", bins: { expops: "dist/bin.js" } },
  { name: "effect" },
  { name: "typescript", bins: { tsc: "bin/tsc" } },
  { name: "@types/node" },
  { name: "node", bins: { node: "bin/node" } }
]

/** Links the packages of `LINKED` that this checkout has into `target/node_modules`; answers their names. */
const linkPackages = (target: string): Array<string> => {
  const modules = Path.join(target, "node_modules")
  const linked: Array<string> = []
  for (const { bins, name } of LINKED) {
    const source = installedFromCli(name)
    if (source === undefined) continue
    const at = Path.join(modules, name)
    mkdirSync(Path.dirname(at), { recursive: true })
    symlinkSync(source, at, "dir")
    for (const [command, file] of Object.entries(bins ?? {})) {
      if (!existsSync(Path.join(source, file))) continue
      mkdirSync(Path.join(modules, ".bin"), { recursive: true })
      symlinkSync(Path.relative(Path.join(modules, ".bin"), Path.join(at, file)), Path.join(modules, ".bin", command))
    }
    linked.push(name)
  }
  return linked
}

/** How the new project gets its packages, which decides what to do next. */
type Setup =
  | { readonly _tag: "Enclosing" }
  | { readonly _tag: "Linked"; readonly packages: ReadonlyArray<string> }
  | { readonly _tag: "Install" }

/** The commands to run next, from the project folder. */
const nextSteps = (setup: Setup): Array<readonly [command: string, comment: string]> => {
  const run = ["npx expops run .", "runs the pipeline; run it again and every process is served from the cache"] as const
  const typecheck = ["npm run typecheck", "type-checks src/ (no build step: Node runs the TypeScript)"] as const
  switch (setup._tag) {
    case "Enclosing":
      return [[run[0], "@expops/core and effect come from the enclosing node_modules"], typecheck]
    case "Linked":
      return [run, typecheck]
    case "Install":
      return [["npm install", "@expops/core, effect and the expops CLI"], run, typecheck]
  }
}

const commandLines = (steps: ReadonlyArray<readonly [string, string]>, indent: string): Array<string> => {
  const width = Math.max(...steps.map(([command]) => command.length))
  return steps.map(([command, comment]) => `${indent}${command.padEnd(width)}   # ${comment}`)
}

/**
 * The new project's README: how to run it (as `create` said) and the
 * template's own sections, with links to files the project does not have
 * (the ExpOps documentation, beside the example in a checkout) left as text.
 */
const readme = (target: string, name: string, template: string, setup: Setup, text: string): string => {
  const sections = text.indexOf("\n## ")
  const body = sections === -1 ? "" : text.slice(sections + 1)
  const unlinked = body.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (link, label: string, href: string) => {
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("#")) return link
    return existsSync(Path.resolve(target, href.replace(/#.*$/, ""))) ? link : label
  })
  const how = setup._tag === "Linked"
    ? "\nIts `node_modules` links to the ExpOps checkout it was created from (the `@expops` packages are not on\n" +
      "the npm registry yet): keep that checkout where it is, or run `npm install` once they are published.\n"
    : ""
  return [
    `# ${name}`,
    "",
    `An ExpOps project, created by \`expops create\` from the \`${template}\` template.`,
    how,
    "## Run it",
    "",
    "From this folder:",
    "",
    "```sh",
    ...commandLines([
      ...nextSteps(setup),
      ["npx expops explain . PROCESS", "why a process ran or was served from the cache"],
      ["npx expops runs show .", "the last run: every process and step, and the metrics"]
    ], ""),
    "```",
    "",
    body.length > 0 ? unlinked : ""
  ].join("\n")
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
    return yield* new UsageError({ message: `no template ${template} (templates: ${templates().join(", ") || "none found"})` })
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
  const setup = yield* Effect.try({
    try: (): Setup => {
      const copy = { recursive: true, dereference: true, filter: (src: string) => !SKIP.has(Path.basename(src)) }
      // A template with a base: the base's files first, the template's own over them.
      if (baseSource !== undefined) cpSync(baseSource, target, copy)
      cpSync(source, target, copy)
      if (base !== undefined && existsSync(Path.join(target, "src"))) rewriteBaseImports(Path.join(target, "src"), base)
      // npm drops `.gitignore` from published packages, so the packed template carries it as `gitignore`.
      if (existsSync(Path.join(target, "gitignore"))) renameSync(Path.join(target, "gitignore"), Path.join(target, ".gitignore"))
      // Decided before anything is linked: a folder inside a checkout finds the packages as it is.
      const setup: Setup = resolvesCore(target)
        ? { _tag: "Enclosing" }
        : fromCheckout
        ? { _tag: "Linked", packages: linkPackages(target) }
        : { _tag: "Install" }
      const version = packageVersion()
      const pkgFile = Path.join(target, "package.json")
      const pkg = existsSync(pkgFile) ? JSON.parse(readFileSync(pkgFile, "utf8")) : {}
      pkg.name = projectName.toLowerCase()
      pkg.private = true
      pkg.type = "module"
      // Linked from a checkout, package.json says so: `npm install` links the same folders again.
      const spec = (pkgName: string) =>
        setup._tag === "Linked" && setup.packages.includes(pkgName) ? `file:${installedFromCli(pkgName)}` : `^${version}`
      pkg.dependencies = { ...pkg.dependencies, "@expops/core": spec("@expops/core"), effect: pkg.dependencies?.effect ?? "^4.1.0" }
      pkg.devDependencies = { ...pkg.devDependencies, "@expops/cli": spec("@expops/cli") }
      // The project holds its base's files itself now.
      delete pkg.expops
      writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + "\n")
      const configFile = Path.join(target, Project.CONFIG_FILE)
      const doc = parseDocument(readFileSync(configFile, "utf8"))
      doc.setIn(["metadata", "name"], projectName)
      writeFileSync(configFile, doc.toString())
      const readmeFile = Path.join(target, "README.md")
      const templateReadme = existsSync(readmeFile) ? readFileSync(readmeFile, "utf8") : ""
      writeFileSync(readmeFile, readme(target, projectName, template, setup, templateReadme))
      return setup
    },
    catch: (cause) => new UsageError({ message: `cannot create ${name}: ${(cause as Error).message}`, cause })
  })
  const lines = [`created ${name} from the ${template} template`]
  if (setup._tag === "Linked") {
    lines.push(
      `linked from this checkout (the @expops packages are not on the npm registry yet): ${setup.packages.join(", ")}`
    )
  }
  lines.push("", "next:", `  cd ${name}`, ...commandLines(nextSteps(setup), "  "))
  yield* Console.log(lines.join("\n"))
})

/**
 * @since 0.1.0
 */
export const command = Command.make("create", {
  name: Argument.String("name").pipe(Argument.withDescription("The folder to create, anywhere on disk (it must not exist, or be empty)")),
  template: Flag.String("template").pipe(
    Flag.withDefault("quickstart"),
    Flag.withDescription(`The template to start from: ${describeTemplates() || "none found"}`)
  )
}, handler).pipe(
  Command.withDescription(
    "Create a new project folder from a template, anywhere on disk. Refuses a folder that is not empty (exit code 2). " +
      "Prints what to run next."
  ),
  Command.withExamples([
    { command: "expops create my-project", description: "A new project from the quick-start template" },
    { command: "expops create ~/work/iris --template quickstart", description: "The same, elsewhere, naming the template" },
    { command: "expops create my-study --template fanout", description: "The classifier over seeds and data partitions, aggregated" }
  ])
)
