/**
 * The `expops` command: its subcommands; `run`, which runs it on an argument
 * list with the services it is given and answers the exit code; and `main`,
 * which does so with Node's.
 *
 * Everything a command reads from or writes to its surroundings goes through
 * services — standard I/O (`Stdio`, `Console`), the terminal, the working
 * directory — so that tests run it in-process on captured output.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Terminal from "effect/Terminal"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as TerminalCapabilities from "effect/cli/TerminalCapabilities"
import type * as CacheCommand from "./CacheCommand.ts"
import type * as CreateCommand from "./CreateCommand.ts"
import { exitCode } from "./Errors.ts"
import type * as ExplainCommand from "./ExplainCommand.ts"
import * as Version from "./internal/version.ts"
import type * as RunCommand from "./RunCommand.ts"
import type * as RunsCommand from "./RunsCommand.ts"
import type * as ShowCommand from "./ShowCommand.ts"
import type * as UiCommand from "./UiCommand.ts"
import type * as WorkerCommand from "./WorkerCommand.ts"
import * as WorkingDirectory from "./WorkingDirectory.ts"

/**
 * The version of `@expops/cli`.
 *
 * @since 0.1.0
 */
export const version: string = Version.read()

type Subcommand =
  | typeof RunCommand.command
  | typeof ExplainCommand.command
  | typeof ShowCommand.command
  | typeof CacheCommand.command
  | typeof RunsCommand.command
  | typeof CreateCommand.command
  | typeof UiCommand.command
  | typeof WorkerCommand.command

/**
 * The subcommands, in the order help lists them, each imported when it is
 * needed: a command line that names one loads that one alone (what
 * `expops run` imports is what a run needs, not the other commands and
 * theirs); anything else (`expops --help`, a mistyped command) loads all.
 */
const subcommands: ReadonlyArray<readonly [name: string, load: () => Promise<{ readonly command: Subcommand }>]> = [
  ["run", () => import("./RunCommand.ts")],
  ["explain", () => import("./ExplainCommand.ts")],
  ["show", () => import("./ShowCommand.ts")],
  ["cache", () => import("./CacheCommand.ts")],
  ["runs", () => import("./RunsCommand.ts")],
  ["create", () => import("./CreateCommand.ts")],
  ["ui", () => import("./UiCommand.ts")],
  ["worker", () => import("./WorkerCommand.ts")]
]

const make = (children: ReadonlyArray<Subcommand>) =>
  Command.make("expops").pipe(
    Command.withDescription(
      "Run ExpOps projects, explain their cache hits and misses, and maintain their caches. " +
        "Exit codes: 0 success, 1 the pipeline (or a cache check) failed, 2 bad usage or bad config."
    ),
    Command.withSubcommands(children as [Subcommand, ...Array<Subcommand>]),
    Command.withExamples([
      { command: "expops run examples/quickstart", description: "Run the quick-start project" },
      { command: "expops explain examples/quickstart train_model", description: "Why did train_model run?" },
      { command: "expops show examples/quickstart evaluate", description: "What evaluate computed (accuracy, confusion matrix)" },
      { command: "expops runs ls examples/quickstart", description: "Past runs" },
      { command: "expops cache stats examples/quickstart", description: "What the cache holds" },
      { command: "expops create my-project", description: "Start a new project" }
    ])
  )

const load = (names: ReadonlyArray<string>) =>
  Effect.promise(() => Promise.all(subcommands.filter(([name]) => names.includes(name)).map(([, load]) => load()))).pipe(
    Effect.map((modules) => make(modules.map((module) => module.command)))
  )

/**
 * The `expops` command with all its subcommands (loaded when this runs).
 *
 * @since 0.1.0
 */
export const command = load(subcommands.map(([name]) => name))

/**
 * The command a command line needs: `expops NAME ...` parses and runs the
 * same with the other subcommands left out, since their names only matter to
 * a command line that does not start with one. test/Cli.test.ts holds both
 * to the same output.
 *
 * @internal
 */
export const commandFor = (args: ReadonlyArray<string>) =>
  subcommands.some(([name]) => name === args[0]) ? load([args[0]!]) : command

/**
 * Usage errors go to stderr (stdout stays clean for `--json`), with the
 * usage line instead of the whole help.
 */
const presenter = CliOutput.layerPresenter({
  present: Effect.fnUntraced(function*(event) {
    if (event._tag !== "InvalidInvocation") return yield* CliOutput.defaultPresenter.present(event)
    // As the default presenter does for help: colours as the standard output allows.
    const context = yield* Effect.context<never>()
    const formatter = Context.getOrUndefined(context, CliOutput.Formatter) ??
      CliOutput.defaultFormatter({ colors: (yield* TerminalCapabilities.TerminalCapabilities).canColor })
    yield* Console.error(formatter.formatErrors(event.errors))
    yield* Console.error(`usage: ${event.helpDoc.usage}\nsee \`${event.commandPath.join(" ")} --help\``)
  })
})

const printError = (error: unknown) => {
  const message = error instanceof Error ? error.message : String(error)
  return message === "" ? Effect.void : Console.error(`error: ${message}`)
}

/**
 * The services a command runs with: effect/cli's (standard I/O, terminal,
 * file system, path, child processes) and the working directory.
 *
 * @since 0.1.0
 */
export type Environment = Command.Environment | WorkingDirectory.WorkingDirectory

/**
 * Runs the CLI on `args` (without the node and script paths). Never fails:
 * answers the exit code — 0 success, 1 failed, 2 bad usage or bad config,
 * 130 interrupted.
 *
 * @since 0.1.0
 */
export const run = (args: ReadonlyArray<string>): Effect.Effect<number, never, Environment> => runWith(commandFor(args), args)

/**
 * `run` with the command tree given (`commandFor(args)` or the whole `command`).
 *
 * @internal
 */
export const runWith = (tree: typeof command, args: ReadonlyArray<string>): Effect.Effect<number, never, Environment> =>
  Effect.flatMap(tree, (command) => Command.runWith(command, { version, renderErrors: true })(args)).pipe(
    Effect.exit,
    Effect.flatMap((exit) => {
      if (Exit.isSuccess(exit)) return Effect.succeed(0)
      if (Cause.hasInterruptsOnly(exit.cause)) return Effect.succeed(130)
      const error = Cause.squash(exit.cause)
      const code = Cause.hasFails(exit.cause) ? exitCode(error) : 1
      // Help and parse errors have been shown by the presenter.
      if (typeof error === "object" && error !== null && (error as { _tag?: string })._tag === "ShowHelp") return Effect.succeed(2)
      if (!Cause.hasFails(exit.cause)) {
        return Effect.as(Console.error(`error: unexpected failure (a bug):\n${Cause.pretty(exit.cause)}`), 1)
      }
      return Effect.as(printError(error), code)
    }),
    Effect.provide(Layer.mergeAll(presenter, TerminalCapabilities.layer)),
    // Warnings (a corrupt entry moved aside, ...) go to stderr, never into a --json document.
    Effect.provideService(Logger.LogToStderr, true)
  )

/**
 * Node's terminal, whose width is stderr's when stdout is not a terminal:
 * with `--json` progress goes to stderr, and stdout is usually redirected.
 */
const layerTerminal: Layer.Layer<Terminal.Terminal> = Layer.effect(
  Terminal.Terminal,
  Effect.gen(function*() {
    const terminal = yield* Terminal.Terminal
    return Terminal.make({ ...terminal, columns: Effect.sync(() => process.stdout.columns ?? process.stderr.columns ?? 0) })
  })
).pipe(Layer.provide(NodeTerminal.layer))

/**
 * The services of a command run by the `expops` executable: Node's, and the
 * process's working directory.
 *
 * @since 0.1.0
 */
// Later layers win: `layerTerminal` replaces the terminal of `NodeServices.layer`.
export const layerNode: Layer.Layer<Environment> = Layer.mergeAll(NodeServices.layer, layerTerminal, WorkingDirectory.layer)

/**
 * `run` with Node's services: what the `expops` executable runs.
 *
 * @since 0.1.0
 */
export const main = (args: ReadonlyArray<string>): Effect.Effect<number> => run(args).pipe(Effect.provide(layerNode))

/**
 * Core errors this module's commands can end with (named for declaration files).
 *
 * @since 0.1.0
 */
export type CoreError = Core.ProjectConfig.ConfigError | Core.CacheStore.CacheStoreError | Core.RunStore.RunStoreError
