/**
 * `expops ui DIR [--port N]`: the local web UI of a project (see docs/ui.md),
 * served on 127.0.0.1 until interrupted. It reads the project's run store
 * and cache, and explains with the `explain` command's own words.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import type * as Ui from "@expops/ui"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Backends from "./Backends.ts"
import { UsageError } from "./Errors.ts"
import * as ExplainCommand from "./ExplainCommand.ts"
import * as Flags from "./internal/flags.ts"
import * as Project from "./Project.ts"

/** The explain command's explanations, with the project's backend already provided. */
const explainer = (projectDir: string) => Effect.map(Effect.context<Backends.Services>(), (context): Ui.Explainer.Shape => ({
  run: (report, target) =>
    ExplainCommand.explain(report, target, projectDir).pipe(
      Effect.map((all) => all.map((explanation) => ({ text: ExplainCommand.renderPlain(report.run.id, explanation), explanation }))),
      // A usage error names what the run does not have; the rest are the stores' failures.
      Effect.mapError((error): Ui.Explainer.Failure => ({ message: error.message, missing: error._tag === "UsageError", cause: error })),
      Effect.provideContext(context)
    ),
  entry: (key) =>
    ExplainCommand.explainEntry(key).pipe(
      Effect.map(Option.map((explanation) => ({ text: ExplainCommand.renderPlain(undefined, explanation), explanation }))),
      Effect.mapError((error): Ui.Explainer.Failure => ({ message: error.message, missing: false, cause: error })),
      Effect.provideContext(context)
    )
}))

const handler = Effect.fn("expops.ui")(function*(input: {
  readonly dir: string
  readonly port: number
  readonly backend: Option.Option<Backends.Name>
}) {
  if (!Number.isInteger(input.port) || input.port < 0 || input.port > 65535) {
    return yield* new UsageError({ message: `--port must be a port number from 0 to 65535 (0: any free port), got ${input.port}` })
  }
  const project = yield* Project.load(input.dir)
  return yield* Effect.gen(function*() {
    // Loaded when serving: `expops --help` and the other commands need none of the HTTP server.
    const { Explainer, UiServer } = yield* Effect.promise(() => import("@expops/ui"))
    // A port in use or a missing front end: the user fixes the command line or the install (exit 2).
    const served = yield* UiServer.serve({ port: input.port }).pipe(
      Effect.provideServiceEffect(Explainer.Explainer, explainer(project.dir)),
      Effect.mapError((error) => new UsageError({ message: error.message, cause: error }))
    )
    yield* Console.log(`expops ui: ${Project.display(project, project.dir)} at ${served.url}  (loopback only; Ctrl-C stops it)`)
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provide(Backends.layer(project, Option.getOrElse(input.backend, () => project.config.backend)))
  )
})

/**
 * @since 0.1.0
 */
export const command = Command.make("ui", {
  dir: Flags.dir,
  port: Flag.Int("port").pipe(Flag.withDefault(7070), Flag.withDescription("Serve on this port of 127.0.0.1 (0: any free port; the URL is printed)")),
  backend: Flags.backend
}, handler).pipe(
  Command.withDescription(
    "Serve the project's web UI on 127.0.0.1: runs (live while they go), the pipeline graph, metric charts, run comparison and the cache. Read-only."
  ),
  Command.withExamples([
    { command: "expops ui examples/quickstart", description: "Open http://127.0.0.1:7070/" },
    { command: "expops ui . --port 0", description: "Any free port (the URL is printed)" }
  ])
)

/**
 * Errors this module's command can end with (named for declaration files).
 *
 * @since 0.1.0
 */
export type CoreError = Core.ProjectConfig.ConfigError | Core.CacheStore.CacheStoreError | Core.RunStore.RunStoreError
