/**
 * `expops run DIR`: loads the project, builds the layers from its config,
 * runs the pipeline with live progress, records the run and reports.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import { Cache, CacheStore, CodeFingerprint, Pipeline, type PipelineError, Reproducibility, RunEvents, RunReport, RunStore, Trace } from "@expops/core"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Backends from "./Backends.ts"
import { Failed, UsageError } from "./Errors.ts"
import * as Ansi from "./internal/ansi.ts"
import * as Flags from "./internal/flags.ts"
import * as Live from "./internal/live.ts"
import * as Output from "./internal/output.ts"
import * as Report from "./internal/report.ts"
import * as Progress from "./Progress.ts"
import * as Replay from "./internal/replay/record.ts"
import * as Project from "./Project.ts"
import * as Tracing from "./Tracing.ts"

/** The report as the run store encodes it (what a replay stores and prints). */
const encodeReport = Schema.encodeSync(Schema.toCodecJson(RunReport.RunReport))

/**
 * A pipeline/config mismatch, with each problem placed in the config file
 * where possible (the process entry, the adjacency list).
 */
const locate = (project: Project.Project, error: PipelineError.PipelineValidationError): UsageError => {
  // Services are the code's business, not the config's.
  const services = error.problems.filter((problem) => problem.code === "missing-service")
  if (services.length > 0) {
    return new UsageError({
      message: `pipeline ${error.pipeline} needs services that nothing provides (see ${project.config.main}):\n` +
        services.map((problem) => `  - ${problem.message}`).join("\n"),
      cause: error
    })
  }
  const names = Object.keys(project.config.parameters)
  const lines = error.problems.map((problem) => {
    const path: Array<string | number> = ["model", "parameters", "pipeline"]
    const setting = problem.setting
    if (setting !== undefined) {
      // A fan-out setting: its key in the process's entry when the config wrote it there, else it came from the code.
      const at = [...path, "processes", names.indexOf(setting.process), setting.name]
      const written = names.includes(setting.process) && project.has(shownPath(project, at))
      if (problem.code === "too-many-branches" && project.has(shownPath(project, [...path, "max_branches"]))) {
        return `  - ${Project.errorAt(project, [...path, "max_branches"], problem.message).message}`
      }
      if (!written) return `  - ${problem.message} (declared in the pipeline's code: Pipeline.make({ fanout }))`
      const key = setting.key !== undefined && project.has(shownPath(project, [...at, setting.key])) ? [setting.key] : []
      return `  - ${Project.errorAt(project, [...at, ...key], problem.message).message}`
    }
    if (problem.process !== undefined && names.includes(problem.process)) {
      // The process's entry: its name, or the parameter its schema rejects.
      path.push("processes", names.indexOf(problem.process))
      if (problem.code === "unknown-process") path.push("name")
      else path.push("parameters", ...(problem.parameterPath ?? []))
    } else if (project.config.adjlist !== undefined && (problem.code === "unknown-process" || problem.code === "cycle")) {
      path.push("process_adjlist")
    } else {
      return `  - ${problem.message}`
    }
    const located = Project.errorAt(project, path, problem.message)
    return `  - ${located.message}`
  })
  return new UsageError({
    message: `pipeline ${error.pipeline} does not fit its config (${Project.display(project, project.configFile)}):\n${lines.join("\n")}`,
    cause: error
  })
}

/** The process a fan-out branch is a copy of; `undefined` for a process that is not a branch. */
const branchOf = (plan: Pipeline.Plan<unknown>, name: string): string | undefined => {
  const node = plan.nodes.get(name)
  return node?.branch !== undefined ? node.base : undefined
}

/** A path as the file spells it (`experiment` for `model` when the file uses the alias). */
const shownPath = (project: Project.Project, path: ReadonlyArray<string | number>) =>
  project.config.modelKey === "experiment" && path[0] === "model" ? ["experiment", ...path.slice(1)] : path

/**
 * What the code fingerprints said at load: warnings on stderr (errors with
 * `--strict`, before anything runs), the rest at debug level.
 */
const reportDiagnostics = Effect.fnUntraced(function*(diagnostics: ReadonlyArray<CodeFingerprint.Diagnostic>, strict: boolean) {
  const warnings = diagnostics.filter((d) => d.severity === "warning")
  const cost = CodeFingerprint.stats()
  yield* Effect.logDebug(
    `code fingerprints: ${cost.definitions} definitions in ${cost.ms.toFixed(1)} ms, ${cost.files} source files (${cost.parsed} parsed, the rest from the index)`
  )
  for (const d of diagnostics) if (d.severity === "debug") yield* Effect.logDebug(d.message)
  const lines = CodeFingerprint.summarize(warnings)
  if (strict && lines.length > 0) {
    return yield* new UsageError({ message: `--strict: not reproducible:\n${lines.map((line) => `  - ${line}`).join("\n")}` })
  }
  for (const line of lines) yield* Console.error(`warning: ${line}`)
  return lines
})

/**
 * Moves the process into the project folder until the scope closes: user
 * code reads its files relative to it, wherever the CLI was started. Moved
 * back after, so that one process can run several projects.
 */
const enterProjectDir = (dir: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const previous = process.cwd()
      process.chdir(dir)
      return previous
    }),
    (previous) => Effect.sync(() => process.chdir(previous))
  )

const handler = Effect.fn("expops.run")(function*(input: {
  readonly dir: string
  readonly json: boolean
  readonly noCache: boolean
  readonly seed: Option.Option<number>
  readonly backend: Option.Option<Backends.Name>
  readonly concurrency: Option.Option<number>
  readonly dryRun: boolean
  readonly strict: boolean
  readonly otlp: Option.Option<string>
  readonly cluster: Option.Option<string>
}) {
  const project = yield* Project.load(input.dir)
  const { config } = project
  if (Option.isSome(input.concurrency) && input.concurrency.value < 1) {
    return yield* new UsageError({ message: `--concurrency must be at least 1, got ${input.concurrency.value}` })
  }
  const backend = Option.getOrElse(input.backend, () => config.backend)
  if (backend === "gcs" && config.gcs === undefined) {
    return yield* Project.errorAt(
      project,
      ["model", "parameters", "cache"],
      "--backend gcs needs a gcs section here (bucket, and optionally prefix, project, credentials)"
    )
  }
  const seed = Option.getOrElse(input.seed, () => config.seed)
  // The digests of the data file and of traced files, by their signatures, from the last run: unchanged files are not read again.
  const digestsFile = Project.fileDigestsFile(project)
  Trace.restoreDigests(digestsFile)
  const data = yield* Project.dataFile(project)
  yield* enterProjectDir(project.dir)
  const { diagnostics, layer, pipeline } = yield* Project.importPipeline(project)
  const warnings = yield* reportDiagnostics(diagnostics, input.strict)
  // Validate before the backend opens: a bad config writes nothing.
  const plan = yield* Pipeline.plan(pipeline, {
    adjlist: config.adjlist,
    parameters: config.parameters,
    fanout: config.fanout,
    maxBranches: config.maxBranches,
    // With a layer, the services are checked once it is built; a dry run needs none.
    layer,
    dryRun: input.dryRun
  }).pipe(
    Effect.mapError((error) => locate(project, error))
  )
  // A cluster run (--cluster, or cluster.url): its processes go to the cluster's runners (loaded only then).
  const clusterUrl = Option.getOrUndefined(input.cluster) ?? config.cluster?.url
  const cluster = clusterUrl === undefined || input.dryRun ? undefined : yield* Effect.flatMap(
    Effect.promise(() => import("./internal/clusterRun.ts")),
    ({ connect }) => connect({ project, dirArgument: input.dir, url: clusterUrl, plan, data, backend, noCache: input.noCache })
  )
  const options: Pipeline.ExecuteOptions = {
    concurrency: Option.getOrUndefined(input.concurrency) ?? cluster?.concurrency ?? config.concurrency,
    execute: cluster?.execute,
    data,
    dryRun: input.dryRun,
    layer
  }
  // A valid project: keep its parsed config and the analyses of its source files for the next run.
  project.keep()
  CodeFingerprint.flush()
  // OpenTelemetry spans of the run, when an OTLP endpoint is configured (see Tracing.ts).
  const tracing = input.dryRun ? undefined : yield* Tracing.start(input.otlp, { pipeline: pipeline.name, backend, seed })

  // With --json, stdout holds the report alone: progress and the summary go to stderr.
  const out = input.json ? "stderr" : "stdout"
  const { color, live } = yield* Output.capabilities(out)
  const paint = Ansi.paint(color)
  const recorded = !(input.dryRun || input.noCache)
  // A run that may leave a receipt for the next identical one (internal/replay): the manifests it reads are noted.
  const receipted = recorded && Replay.enabled() && backend === "local" && cluster === undefined && tracing === undefined
  const cacheReads = Replay.noReads()
  let recorder: Live.Recorder | undefined
  const record = !recorded
    ? () => Effect.void
    : (runs: RunStore.Shape, report: RunReport.RunReport) =>
      // The last events first: saving the run ends its live record.
      Effect.andThen(recorder?.close ?? Effect.void, runs.saveRun(report)).pipe(
        Effect.catch((error) => Effect.logWarning(`the run was not recorded: ${error.message}`))
      )
  /** Set when the run is interrupted: what it did so far, recorded and then shown. */
  let interrupted: RunReport.RunReport | undefined
  const show = Effect.fnUntraced(function*(report: RunReport.RunReport) {
    if (input.json) yield* Console.log(JSON.stringify(report, null, 2))
    yield* (input.json ? Console.error : Console.log)(Report.summary(report, paint, plan.layers))
  })
  const report = yield* Effect.scoped(Effect.gen(function*() {
    const runs = yield* RunStore.RunStore
    const progress = input.dryRun
      ? undefined
      : yield* Progress.make({ out, live, color, processes: plan.order, baseOf: (name) => branchOf(plan, name) })
    const runId = Pipeline.makeRunId(yield* Clock.currentTimeMillis)
    // Seen live by `expops ui` (another process) as it goes.
    const tracked = recorded ? yield* Live.record(runs, plan, { id: runId, seed, backend: (yield* CacheStore.CacheStore).backend }) : undefined
    recorder = tracked
    const shown = progress && tracked
      ? (event: RunEvents.RunEvent) => Effect.andThen(progress.listener(event), tracked.emit(event))
      : progress?.listener
    // Something computes: the run will leave no receipt, so the watch stops noting what it reads.
    const listener = receipted
      ? (event: RunEvents.RunEvent) => {
        if (event.phase === "miss") Replay.abandon()
        return shown?.(event) ?? Effect.void
      }
      : shown
    const layers = Layer.mergeAll(
      Cache.layer({ mode: input.noCache ? "off" : "read-write" }),
      Reproducibility.layer(seed),
      tracing ? tracing.events(listener) : listener ? RunEvents.layer(listener) : Layer.empty
    )
    const onInterrupt = (partial: RunReport.RunReport) =>
      Effect.suspend(() => {
        interrupted = partial
        return record(runs, partial)
      })
    const report = yield* Pipeline.runPlan(plan, { ...options, runId, onInterrupt }).pipe(
      Effect.provide(layers, { local: true }),
      receipted ? Effect.updateService(CacheStore.CacheStore, (store) => Replay.observe(store, cacheReads)) : identity,
      (run) => (tracing ? tracing.run(run, () => interrupted) : run)
    )
    yield* record(runs, report)
    return report
  })).pipe(
    Effect.mapError((error) => (error._tag === "PipelineValidationError" ? locate(project, error) : error)),
    Effect.provide(Backends.layer(project, backend)),
    // Shown once the progress display has stopped, so that its last redraw does not overwrite the summary.
    Effect.onInterrupt(() => (interrupted === undefined ? Effect.void : show(interrupted)))
  )

  if (!input.noCache) Trace.keepDigests(digestsFile)
  // A receipt for the next identical run (internal/replay), only of a run reproducible as it stands: fully
  // cached, no warning about its code. Any other run removes the one it replaces, which no longer describes it.
  if (receipted) {
    const replayable = warnings.length === 0 && report.run.status === "success" && report.processes.every((p) => p.status === "cached")
    const written = replayable && Replay.write({
      projectDir: project.dir,
      report,
      encoded: encodeReport(report),
      order: plan.order,
      bases: Object.fromEntries(plan.order.flatMap((name) => {
        const base = branchOf(plan, name)
        return base === undefined ? [] : [[name, base]]
      })),
      layers: plan.layers,
      reads: cacheReads
    })
    if (!written) Replay.discard(project.dir)
  }
  yield* show(report)
  if (report.run.status === "failed") return yield* new Failed({ message: "" })
}, Effect.scoped)

/**
 * @since 0.1.0
 */
export const command = Command.make("run", {
  dir: Flags.dir,
  json: Flags.json,
  noCache: Flag.Boolean("no-cache").pipe(
    Flag.withoutNegation,
    Flag.withDefault(false),
    Flag.withDescription("Run every step and process; read nothing from the cache and store nothing (not even the run record)")
  ),
  seed: Flag.Int("seed").pipe(Flag.optional, Flag.withDescription("Root seed for this run, instead of reproducibility.seed")),
  backend: Flags.backend,
  concurrency: Flag.Int("concurrency").pipe(
    Flag.optional,
    Flag.withDescription("Run at most this many processes at once (default: model.parameters.pipeline.concurrency, else 4)")
  ),
  dryRun: Flag.Boolean("dry-run").pipe(
    Flag.withoutNegation,
    Flag.withDefault(false),
    Flag.withDescription("Compute every key and report what would be served from the cache or run; run and store nothing")
  ),
  strict: Flag.Boolean("strict").pipe(
    Flag.withoutNegation,
    Flag.withDefault(false),
    Flag.withDescription(
      "Refuse to run (exit 2) when a step or process reaches a non-reproducible call (Date.now, crypto.randomUUID, ...) " +
        "or a value read at load from outside the code; without it these are warnings"
    )
  ),
  otlp: Flag.String("otlp").pipe(
    Flag.optional,
    Flag.withDescription(
      "Export the run's OpenTelemetry spans (run, processes, steps) to this OTLP/HTTP endpoint, e.g. http://localhost:4318 " +
        "(default: OTEL_EXPORTER_OTLP_ENDPOINT, when set)"
    )
  ),
  cluster: Flag.String("cluster").pipe(
    Flag.optional,
    Flag.withDescription(
      "Send the processes whose keys miss to the runners of this cluster, postgres://USER@HOST:PORT/DATABASE " +
        "(default: cluster.url in the config; start runners with `expops worker`)"
    )
  )
}, handler).pipe(
  Command.withDescription(
    "Run a project's pipeline. Processes and steps whose keys are in the cache are served from it; the rest run and are stored. " +
      "Exit code: 0 success, 1 the pipeline failed, 2 bad usage or bad config."
  ),
  Command.withExamples([
    { command: "expops run examples/quickstart", description: "Run the quick-start project" },
    { command: "expops run . --json > report.json", description: "Print the run report as JSON on stdout" },
    { command: "expops run . --seed 7", description: "Run with another root seed" },
    { command: "expops run . --dry-run", description: "Show what would be served from the cache and what would run" },
    { command: "expops run . --no-cache", description: "Run everything, store nothing" },
    { command: "expops run . --otlp http://localhost:4318", description: "Export the run's traces to an OpenTelemetry collector" }
  ])
)

/**
 * Core errors this module's commands can end with (named for declaration files).
 *
 * @since 0.1.0
 */
export type CoreError = Core.ProjectConfig.ConfigError | Core.CacheStore.CacheStoreError | Core.RunStore.RunStoreError
