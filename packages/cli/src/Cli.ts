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
import { readFileSync } from "node:fs"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Cause, Console, Context, Effect, Exit, Layer, Logger, Terminal } from "effect"
import { CliOutput, Command, TerminalCapabilities } from "effect/cli"
import * as CacheCommand from "./CacheCommand.ts"
import * as CreateCommand from "./CreateCommand.ts"
import { exitCode } from "./Errors.ts"
import * as ExplainCommand from "./ExplainCommand.ts"
import * as RunCommand from "./RunCommand.ts"
import * as RunsCommand from "./RunsCommand.ts"
import * as ShowCommand from "./ShowCommand.ts"
import * as WorkingDirectory from "./WorkingDirectory.ts"

/**
 * The version of `@expops/cli`.
 *
 * @since 0.1.0
 */
export const version: string = (() => {
  try {
    return JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version
  } catch {
    return "0.0.0"
  }
})()

/**
 * @since 0.1.0
 */
export const command = Command.make("expops").pipe(
  Command.withDescription(
    "Run ExpOps projects, explain their cache hits and misses, and maintain their caches. " +
      "Exit codes: 0 success, 1 the pipeline (or a cache check) failed, 2 bad usage or bad config."
  ),
  Command.withSubcommands([
    RunCommand.command,
    ExplainCommand.command,
    ShowCommand.command,
    CacheCommand.command,
    RunsCommand.command,
    CreateCommand.command
  ]),
  Command.withExamples([
    { command: "expops run examples/quickstart", description: "Run the quick-start project" },
    { command: "expops explain examples/quickstart train_model", description: "Why did train_model run?" },
    { command: "expops show examples/quickstart evaluate", description: "What evaluate computed (accuracy, confusion matrix)" },
    { command: "expops runs ls examples/quickstart", description: "Past runs" },
    { command: "expops cache stats examples/quickstart", description: "What the cache holds" },
    { command: "expops create my-project", description: "Start a new project" }
  ])
)

/**
 * Usage errors go to stderr (stdout stays clean for `--json`), with the
 * usage line instead of the whole help.
 */
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    Effect.gen(function*() {
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
export const run = (args: ReadonlyArray<string>): Effect.Effect<number, never, Environment> =>
  Command.runWith(command, { version, renderErrors: true })(args).pipe(
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
