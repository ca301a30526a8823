/**
 * A pipeline: a DAG of processes, run in topological order with independent
 * processes running concurrently.
 *
 * Edges come from the pipeline's own `edges` and from the project config's
 * `process_adjlist` (both are used). Each process's inputs are taken, by
 * name, from the outputs of its direct upstream processes; its parameters
 * from the config. A process that fails marks its dependents `skipped` while
 * other branches finish.
 *
 * A process may fan out (see `Fanout`): `plan` then copies the processes
 * downstream of it once per seed or data partition, and those copies are
 * what runs and what the report lists, each under its own name.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as SchemaParser from "effect/SchemaParser"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { Cache } from "./Cache.ts"
import * as Fanout from "./Fanout.ts"
import * as internal from "./internal/encoding.ts"
import type * as CodeFingerprint from "./CodeFingerprint.ts"
import * as Failure from "./Failure.ts"
import * as Expansion from "./internal/fanout.ts"
import * as Issues from "./internal/issues.ts"
import * as Metrics from "./Metrics.ts"
import * as Process from "./Process.ts"
import * as Trace from "./Trace.ts"
import { LayerError, PipelineValidationError, type Problem } from "./PipelineError.ts"
import * as Reproducibility from "./Reproducibility.ts"
import * as RunEvents from "./RunEvents.ts"
import * as RunRecords from "./RunRecords.ts"
import type { Branch, ProcessReport, RunReport } from "./RunReport.ts"

/**
 * An edge `[from, to]`: `to` depends on `from`.
 *
 * @since 0.1.0
 */
export type Edge = readonly [from: string, to: string]

/**
 * @since 0.1.0
 */
export interface Pipeline<out R> extends Pipeable {
  readonly name: string
  readonly processes: ReadonlyArray<Process.Any>
  readonly edges: ReadonlyArray<Edge>
  /** Provides the services the processes' bodies need: `run` builds it and provides it to every body. */
  readonly layer: Layer.Layer<any, unknown, never> | undefined
  /** Fan-outs declared in code (see `Fanout`); the config's settings replace them per process and kind. */
  readonly fanout: ReadonlyArray<Fanout.Declaration>
  /** The most branches a fan-out may copy one process into; `undefined`: the default, 1,000. */
  readonly maxBranches: number | undefined
  /** Phantom: the services the processes' bodies need that `layer` does not provide. */
  readonly "~requirements"?: (_: never) => R
}

/**
 * The services needed by any process in a list.
 *
 * @since 0.1.0
 */
export type ContextOfProcesses<Ps extends ReadonlyArray<Process.Any>> = Ps[number] extends infer P
  ? P extends Process.Process<any, any, any, any, infer R> ? R : never
  : never

/**
 * @since 0.1.0
 */
export const isPipeline = (u: unknown): u is Pipeline<unknown> =>
  typeof u === "object" && u !== null && (u as any)["~expops/Pipeline"] === true

/**
 * The services `run`'s caller provides (the cache), never a layer's job.
 *
 * @since 0.1.0
 */
export type Provided = Cache

/**
 * The services the processes `Ps` need that a layer providing `ROut` leaves out.
 *
 * @since 0.1.0
 */
export type Unprovided<Ps extends ReadonlyArray<Process.Any>, ROut> =
  // A body typed `any` says nothing about what it needs.
  0 extends 1 & ContextOfProcesses<Ps> ? never : Exclude<ContextOfProcesses<Ps>, ROut | Provided>

/**
 * Defines a pipeline. When the processes' bodies need services of yours (a
 * database client, say), `layer` must provide them: without it, or with a
 * layer that leaves one out, `make` does not type-check, and its error names
 * the services.
 *
 * ```ts
 * export const layer = Database.layer("data/app.sqlite")
 * export default Pipeline.make({ name: "app", processes: [load, report], layer })
 * ```
 *
 * @since 0.1.0
 */
export const make = <const Ps extends ReadonlyArray<Process.Any>, ROut = never, LE = never>(
  options:
    & {
      readonly name: string
      readonly processes: Ps
      readonly edges?: ReadonlyArray<Edge> | undefined
      /** Provides the services the bodies need; `run` (and `expops run`) provide it to every body. */
      readonly layer?: Layer.Layer<ROut, LE, never> | undefined
      /**
       * Seed and data parallelism, typed: `[Fanout.seeds(prepare, [1, 2, 3]), Fanout.aggregate(summarise, "seed")]`.
       * The config's `seed_parallelism` / `data_parallelism` of a process replace these, kind by kind.
       */
      readonly fanout?: ReadonlyArray<Fanout.Declaration> | undefined
      /** The most branches one process may be copied into (default 1,000); the config's `max_branches` replaces it. */
      readonly maxBranches?: number | undefined
    }
    & ([Unprovided<Ps, ROut>] extends [never] ? unknown
      : {
        /** The processes' bodies need these services: give a layer that provides them. */
        readonly layer: Layer.Layer<Unprovided<Ps, ROut>, unknown, never>
      })
): Pipeline<Exclude<ContextOfProcesses<Ps>, ROut>> => ({
  "~expops/Pipeline": true,
  name: options.name,
  processes: options.processes,
  edges: options.edges ?? [],
  layer: options.layer,
  fanout: options.fanout ?? [],
  maxBranches: options.maxBranches,
  pipe() {
    return pipeArguments(this, arguments)
  }
} as any)

/**
 * The services of the user's code that a pipeline's processes ask for, each
 * with the processes that need it (see `CodeFingerprint.Service`).
 *
 * @since 0.1.0
 */
export const services = (pipeline: Pipeline<unknown>): ReadonlyArray<{ readonly service: CodeFingerprint.Service; readonly processes: ReadonlyArray<string> }> => {
  const byKey = new Map<string, { readonly service: CodeFingerprint.Service; readonly processes: Array<string> }>()
  for (const process of pipeline.processes) {
    for (const service of process.services ?? []) {
      const known = byKey.get(service.key)
      if (known === undefined) byKey.set(service.key, { service, processes: [process.name] })
      else if (!known.processes.includes(process.name)) known.processes.push(process.name)
    }
  }
  return [...byKey.values()]
}

/** A service nobody provides, in words: who needs it, where it is declared, and how to provide it. */
const missingService = (need: { readonly service: CodeFingerprint.Service; readonly processes: ReadonlyArray<string> }, hasLayer: boolean): Problem => {
  const { file, key, line, name } = need.service
  const who = need.processes.length === 1 ? `process ${need.processes[0]}` : `processes ${need.processes.join(", ")}`
  return {
    code: "missing-service",
    processes: need.processes,
    message: `${who} ${need.processes.length === 1 ? "needs" : "need"} the service ${key} (${name}, ${file}:${line}), which ` +
      (hasLayer ? "the pipeline's layer does not provide: add it to that layer" : "nothing provides") +
      ": give Pipeline.make a `layer` that provides it (the pipeline module may also export it as `layer`, which `expops run` provides)"
  }
}

/**
 * The services in context, by key: what the caller of `run` provided.
 */
const keysInContext = Effect.map(Effect.context<never>(), (context) => new Set(context.mapUnsafe.keys()))

/**
 * Builds the pipeline's layers (its own and `options.layer`) into the run's
 * scope, and checks that every service the processes ask for is provided,
 * by them or by the caller. Answers what they provide.
 */
const buildServices = Effect.fnUntraced(function*(pipeline: Pipeline<unknown>, options: ExecuteOptions) {
  const layers = [pipeline.layer, options.layer].filter((l, i, all): l is Layer.Layer<any, unknown, never> => l !== undefined && all.indexOf(l) === i)
  const built = yield* Effect.forEach(layers, (layer) =>
    Layer.build(layer).pipe(
      Effect.catchCause((cause) => Effect.fail(new LayerError({ pipeline: pipeline.name, ...Failure.fromCause(cause), cause: Cause.squash(cause) })))
    ))
  const context = built.reduce((all, c) => Context.merge(all, c), Context.empty() as Context.Context<any>)
  const ambient = yield* keysInContext
  const problems = services(pipeline)
    .filter(({ service }) => !ambient.has(service.key) && !context.mapUnsafe.has(service.key))
    .map((need) => missingService(need, layers.length > 0))
  if (problems.length > 0) return yield* new PipelineValidationError({ pipeline: pipeline.name, problems })
  return context
})

/**
 * Parses a `process_adjlist`: one line per node, `a b c` meaning that `b`
 * and `c` depend on `a`; `#` starts a comment.
 *
 * @since 0.1.0
 */
export const parseAdjlist = (text: string): Array<Edge> => {
  const edges: Array<Edge> = []
  for (const raw of text.split("\n")) {
    const [from, ...to] = raw.replace(/#.*/, "").trim().split(/\s+/).filter((t) => t.length > 0)
    if (from !== undefined) for (const target of to) edges.push([from, target])
  }
  return edges
}

/**
 * What a plan is made from: the project config's edges and parameters.
 *
 * @since 0.1.0
 */
export interface PlanOptions {
  /** The config's `process_adjlist`, added to the pipeline's own edges. */
  readonly adjlist?: string | undefined
  /** Raw parameters per process name, as written in the config; decoded with each process's schema. */
  readonly parameters?: Readonly<Record<string, unknown>> | undefined
  /** The config's `seed_parallelism` / `data_parallelism` per process; each replaces what the code declares for that process and kind. */
  readonly fanout?: Readonly<Record<string, Fanout.Settings>> | undefined
  /** The most branches one process may be copied into; over it, validation fails. Default: the pipeline's, else 1,000. */
  readonly maxBranches?: number | undefined
}

/**
 * How to run a plan.
 *
 * @since 0.1.0
 */
export interface ExecuteOptions {
  /** At most this many processes run at once. Default 4. */
  readonly concurrency?: number | undefined
  /** The project's data file; its digest is part of every process key. */
  readonly data?: { readonly path: string; readonly digest: string } | undefined
  /** The config's `seed_parallelism` / `data_parallelism` per process; each replaces what the code declares for that process and kind. */
  readonly fanout?: Readonly<Record<string, Fanout.Settings>> | undefined
  /** The most branches one process may be copied into; over it, validation fails. Default: the pipeline's, else 1,000. */
  readonly maxBranches?: number | undefined
  /** Compute keys and look them up; run nothing, store nothing. */
  readonly dryRun?: boolean | undefined
  readonly runId?: string | undefined
  /** Provides services to every body, besides the pipeline's own `layer` (`expops run`: the pipeline module's `layer` export). */
  readonly layer?: Layer.Layer<any, unknown, never> | undefined
  /**
   * Called when the run is interrupted, with its report so far (status
   * `interrupted`: what finished, what was interrupted, what never started),
   * before the interruption goes on: where a caller records the run.
   */
  readonly onInterrupt?: ((report: RunReport) => Effect.Effect<void>) | undefined
  /**
   * Runs a process instead of `Process.execute` (which runs it here, through
   * the cache): `@expops/cluster` sends it to a runner. Dry runs do not call it.
   */
  readonly execute?: ((request: ExecuteRequest) => Effect.Effect<Process.Result, never, Cache>) | undefined
}

/**
 * What `ExecuteOptions.execute` is asked to run: a node of the plan with the
 * context it runs in, and the keys of its upstream processes (where their
 * outputs are stored, for a runner to read).
 *
 * @since 0.1.0
 */
export interface ExecuteRequest {
  readonly node: Node
  readonly context: Process.Context
  readonly upstreamKeys: Readonly<Record<string, string>>
}

/**
 * How to run a pipeline: how to plan it, then how to run the plan.
 *
 * @since 0.1.0
 */
export interface RunOptions extends PlanOptions, ExecuteOptions {}

/**
 * A validated pipeline, ready to run. With fan-outs, its processes are the
 * expanded ones: each copy of a duplicated process is there under its own
 * name (`train_model_seed41`), with its `Node` saying what it is a copy of.
 *
 * @since 0.1.0
 */
export interface Plan<out R> {
  readonly pipeline: Pipeline<R>
  /** Process names in a topological order (ties broken by declaration order; a process's branches together, in branch order). */
  readonly order: ReadonlyArray<string>
  readonly processes: ReadonlyMap<string, Process.Any>
  readonly upstream: ReadonlyMap<string, ReadonlyArray<string>>
  /** For each process, which upstream provides each of its inputs. */
  readonly sources: ReadonlyMap<string, Readonly<Record<string, string>>>
  readonly parameters: ReadonlyMap<string, unknown>
  /** Each process as it runs: its base process, its branch, where each input comes from. */
  readonly nodes: ReadonlyMap<string, Node>
  /** The fan-out layers, in the order they open. */
  readonly layers: ReadonlyArray<Fanout.Layer>
}

/**
 * One process of the expanded graph: a process of the pipeline, or one
 * branch's copy of it.
 *
 * @since 0.1.0
 */
export interface Node {
  /** `train_model`, or for a branch `train_model_seed41`, `train_model_data2_seed41`. */
  readonly name: string
  /** The process of the pipeline it runs. */
  readonly base: string
  readonly process: Process.Any
  /** Its seed and/or partition; `undefined` outside any fan-out. */
  readonly branch: Branch | undefined
  /** The root seed of a seed branch (its seed); `undefined`: the run's. */
  readonly rootSeed: number | undefined
  /** Inside a data layer: keyed by its partition's content, not by the data file's digest. */
  readonly inData: boolean
  readonly upstream: ReadonlyArray<string>
  readonly inputs: Readonly<Record<string, Source>>
  /** Which upstream provides each input, for the recipe (and `explain`). */
  readonly sources: Readonly<Record<string, string>>
  readonly parameters: unknown
  /** When it opens a data layer: the output it splits and how. */
  readonly split: { readonly output: string; readonly size: number | ReadonlyArray<number>; readonly at: string | undefined } | undefined
}

/**
 * Where an input of a node comes from: an output of another node (one
 * partition of it, for a split output), or for an aggregation a record of
 * such, keyed by branch.
 *
 * @since 0.1.0
 */
export type Source =
  | { readonly _tag: "Output"; readonly node: string; readonly output: string; readonly partition: number | undefined }
  | { readonly _tag: "Record"; readonly entries: ReadonlyArray<readonly [label: string, source: Source]> }

/**
 * The most branches a fan-out may copy one process into, unless the config's
 * `max_branches` (or `Pipeline.make({ maxBranches })`) says more.
 *
 * @since 0.1.0
 */
export const DEFAULT_MAX_BRANCHES = 1000

/** The code's fan-out declarations, merged per process; the config's replace them kind by kind. */
const fanoutSettings = (pipeline: Pipeline<unknown>, options: RunOptions): Map<string, Fanout.Settings> => {
  const settings = new Map<string, Fanout.Settings>()
  for (const { process, settings: declared } of pipeline.fanout ?? []) {
    const previous = settings.get(process) ?? {}
    settings.set(process, {
      seed: declared.seed !== undefined ? { ...previous.seed, ...declared.seed } : previous.seed,
      data: declared.data !== undefined ? { ...previous.data, ...declared.data } : previous.data
    })
  }
  for (const [process, configured] of Object.entries(options.fanout ?? {})) {
    const previous = settings.get(process) ?? {}
    settings.set(process, { seed: configured.seed ?? previous.seed, data: configured.data ?? previous.data })
  }
  return settings
}

const outputNames = (p: Process.Any): Array<string> => Object.keys(p.outputs.fields)

/**
 * Validates a pipeline and its configuration. Every problem is reported at
 * once, each naming the processes involved. A plan made for a run with no
 * layer at all (neither the pipeline's nor `options.layer`) also reports the
 * services its processes need that the caller does not provide; with a
 * layer, `runPlan` checks them once it is built, before anything runs.
 *
 * @since 0.1.0
 */
export const plan = <R>(
  pipeline: Pipeline<R>,
  options: PlanOptions & Pick<ExecuteOptions, "layer" | "dryRun"> = {}
): Effect.Effect<Plan<R>, PipelineValidationError> =>
  Effect.suspend(() => {
    const problems: Array<Problem> = []
    const processes = new Map<string, Process.Any>()
    for (const p of pipeline.processes) {
      if (processes.has(p.name)) {
        problems.push({ code: "duplicate-process", processes: [p.name], message: `two processes are named ${p.name}` })
      }
      processes.set(p.name, p)
    }
    const edges = [...pipeline.edges, ...parseAdjlist(options.adjlist ?? "")]
    const upstream = new Map<string, Array<string>>(Array.from(processes.keys(), (name) => [name, []]))
    for (const [from, to] of edges) {
      const unknown = [from, to].filter((name) => !processes.has(name))
      if (unknown.length > 0) {
        problems.push({
          code: "unknown-process",
          processes: unknown,
          message: `edge ${from} -> ${to} names ${unknown.map((n) => `unknown process ${n}`).join(" and ")}` +
            ` (known: ${Array.from(processes.keys()).join(", ")})`
        })
        continue
      }
      const ups = upstream.get(to)!
      if (!ups.includes(from)) ups.push(from)
    }
    for (const name of Object.keys(options.parameters ?? {})) {
      if (!processes.has(name)) {
        problems.push({
          code: "unknown-process",
          processes: [name],
          message: `parameters are given for unknown process ${name} (known: ${Array.from(processes.keys()).join(", ")})`,
          process: name
        })
      }
    }

    const order = topologicalOrder(Array.from(processes.keys()), upstream)
    if (order.cycle.length > 0) {
      problems.push({ code: "cycle", processes: order.cycle, message: `processes form a cycle: ${[...order.cycle, order.cycle[0]].join(" -> ")}` })
    }

    const sources = new Map<string, Record<string, string>>()
    const parameters = new Map<string, unknown>()
    for (const [name, p] of processes) {
      const producers = new Map<string, Array<string>>()
      for (const up of upstream.get(name)!) {
        for (const output of outputNames(processes.get(up)!)) {
          producers.set(output, [...(producers.get(output) ?? []), up])
        }
      }
      const provided: Record<string, string> = {}
      for (const [output, from] of producers) {
        if (from.length > 1) {
          problems.push({
            code: "duplicate-output",
            processes: [...from, name],
            message: `processes ${from.join(" and ")} both produce output ${output}, which ${name} would receive`
          })
        }
        if (output in p.parameters.fields) {
          problems.push({
            code: "output-parameter-collision",
            processes: [from[0]!, name],
            message: `output ${output} of ${from[0]} has the same name as a parameter of ${name}`
          })
        }
        provided[output] = from[0]!
      }
      const sourcesOfInputs: Record<string, string> = {}
      for (const [input, schema] of Object.entries(p.inputs.fields)) {
        if (input in provided) sourcesOfInputs[input] = provided[input]!
        else if (!SchemaAST.isOptional((schema as Schema.Top).ast)) {
          problems.push({
            code: "missing-input",
            processes: [name],
            message: `process ${name} needs input ${input}, which no upstream process produces` +
              ` (upstream: ${upstream.get(name)!.join(", ") || "none"})`
          })
        }
      }
      sources.set(name, sourcesOfInputs)
      const raw = options.parameters?.[name] ?? {}
      const decoded = SchemaParser.decodeUnknownResult(p.parameters)(raw, { onExcessProperty: "error" })
      if (Result.isSuccess(decoded)) parameters.set(name, decoded.success)
      else {
        for (const leaf of Issues.leaves(decoded.failure)) {
          const parameterPath = leaf.path.map((key) => (typeof key === "number" ? key : String(key)))
          problems.push({
            code: "invalid-parameters",
            processes: [name],
            message: `parameters of process ${name}: ${leaf.message}${parameterPath.length > 0 ? ` at ${Issues.bracketPath(parameterPath)}` : ""}`,
            process: name,
            parameterPath
          })
        }
      }
    }
    // The fan-out needs an order, hence no cycle; its problems are reported with the others.
    const settings = fanoutSettings(pipeline, options)
    const expanded = order.cycle.length === 0
      ? Expansion.expand({
        processes,
        order: order.order,
        upstream,
        sources,
        parameters,
        settings,
        maxBranches: options.maxBranches ?? pipeline.maxBranches ?? DEFAULT_MAX_BRANCHES
      })
      : undefined
    if (expanded !== undefined) problems.push(...expanded.problems)
    const conclude = (): Effect.Effect<Plan<R>, PipelineValidationError> => {
      if (problems.length > 0 || expanded?.nodes === undefined) {
        return Effect.fail(new PipelineValidationError({ pipeline: pipeline.name, problems }))
      }
      const nodes = new Map(expanded.nodes.map((node) => [node.name, node]))
      return Effect.succeed({
        pipeline,
        order: expanded.nodes.map((node) => node.name),
        processes: new Map(expanded.nodes.map((node) => [node.name, node.process])),
        upstream: new Map(expanded.nodes.map((node) => [node.name, node.upstream])),
        sources: new Map(expanded.nodes.map((node) => [node.name, node.sources])),
        parameters: new Map(expanded.nodes.map((node) => [node.name, node.parameters])),
        nodes,
        layers: expanded.layers
      } satisfies Plan<R>)
    }
    // Without any layer, a service the caller does not provide cannot be there (with one, `runPlan` checks once it is built).
    if (pipeline.layer !== undefined || options.layer !== undefined || options.dryRun) return conclude()
    return Effect.flatMap(keysInContext, (ambient) => {
      for (const need of services(pipeline)) if (!ambient.has(need.service.key)) problems.push(missingService(need, false))
      return conclude()
    })
  })

/** Kahn's algorithm, stable in declaration order; on a cycle, one cycle's members. */
const topologicalOrder = (
  names: ReadonlyArray<string>,
  upstream: ReadonlyMap<string, ReadonlyArray<string>>
): { order: Array<string>; cycle: Array<string> } => {
  const remaining = new Map(names.map((n) => [n, upstream.get(n)!.length]))
  const order: Array<string> = []
  let progressed = true
  while (progressed) {
    progressed = false
    for (const name of names) {
      if (remaining.get(name) !== 0) continue
      remaining.delete(name)
      order.push(name)
      progressed = true
      for (const other of names) {
        if (remaining.has(other) && upstream.get(other)!.includes(name)) remaining.set(other, remaining.get(other)! - 1)
      }
    }
  }
  if (remaining.size === 0) return { order, cycle: [] }
  // Walk upstream from any stuck node until a node repeats: that loop is a cycle.
  const path: Array<string> = []
  let node = remaining.keys().next().value!
  while (!path.includes(node)) {
    path.push(node)
    node = upstream.get(node)!.find((u) => remaining.has(u))!
  }
  return { order, cycle: path.slice(path.indexOf(node)).reverse() }
}

/**
 * Runs a pipeline and returns its run report: `plan`, then `runPlan`. Fails
 * only before anything runs: when the pipeline is invalid, when a layer
 * fails to build, or when a service its processes need is not provided; a
 * failing process is reported, not raised.
 *
 * @since 0.1.0
 */
export const run = <R>(
  pipeline: Pipeline<R>,
  options: RunOptions = {}
): Effect.Effect<RunReport, PipelineValidationError | LayerError, Cache | R> =>
  Effect.flatMap(plan(pipeline, options), (planned) => runPlan(planned, options))

/**
 * Runs a plan (validated by `plan`) and returns its run report. The
 * pipeline's layer and `options.layer` are built first, and the services the
 * processes need checked, before anything runs (a `LayerError`, or a
 * `PipelineValidationError` naming a missing service). After that it never
 * fails: a failing process is reported, and its dependents are skipped.
 *
 * @since 0.1.0
 */
export const runPlan = <R>(
  validated: Plan<R>,
  options: ExecuteOptions = {}
): Effect.Effect<RunReport, PipelineValidationError | LayerError, Cache | R> => Effect.scoped(runPlanScoped(validated, options))

const runPlanScoped = Effect.fnUntraced(
  function*<R>(
    validated: Plan<R>,
    options: ExecuteOptions
  ): Effect.fn.Return<RunReport, PipelineValidationError | LayerError, Cache | R | Scope.Scope> {
    const { pipeline } = validated
    // The services of the user's layers, built before anything runs and released when the run ends.
    const provided = options.dryRun ? Context.empty() : yield* buildServices(pipeline, options)
    // Bodies' reads and Math.random are traced for the whole run, not installed body by body.
    if (!options.dryRun) yield* Trace.installed
    const cache = yield* Cache
    const seed = yield* Reproducibility.RootSeed
    const startedAt = yield* Clock.currentTimeMillis
    const started = yield* internal.monotonicMs
    const semaphore = yield* Semaphore.make(Math.max(1, options.concurrency ?? 4))
    const results = new Map(validated.order.map((name) => [name, Deferred.makeUnsafe<Process.Result>()]))
    // Results once known, and the partitions of each split output, for wiring inputs.
    const done = new Map<string, Process.Result>()
    const partitions = new Map<string, ReadonlyArray<unknown>>()
    const valueOf = (source: Source): unknown => {
      if (source._tag === "Record") {
        const record: Record<string, unknown> = {}
        for (const [label, entry] of source.entries) record[label] = valueOf(entry)
        return record
      }
      return source.partition === undefined
        ? done.get(source.node)!.outputs![source.output]
        : partitions.get(source.node)![source.partition - 1]
    }
    /** The report lines in, by process: what an interrupted run still reports. */
    const reported = new Map<string, ProcessReport>()
    /** The processes running now, with the steps they have finished. */
    const running = new Map<string, Process.Running>()

    const runOne = Effect.fnUntraced(function*(name: string) {
      const node = validated.nodes.get(name)!
      const process = node.process
      const ups = node.upstream
      const upstreamResults = yield* Effect.forEach(ups, (up) => Deferred.await(results.get(up)!))
      const blocked = ups.filter((_, i) => upstreamResults[i]!.outputs === undefined)
      let result: Process.Result
      if (blocked.length > 0 && !options.dryRun) {
        yield* RunEvents.emit({ kind: "process", phase: "skip", process: name, ...(node.branch ? { base: node.base } : {}) })
        result = {
          report: { name, status: "skipped", key: "", durationMs: 0, steps: [], error: `upstream ${listNames(blocked)} did not succeed` },
          outputs: undefined
        }
      } else if (blocked.length > 0) {
        result = {
          report: { name, status: "would-run", key: "", durationMs: 0, steps: [], reason: `its inputs come from ${listNames(blocked)}, which would run` },
          outputs: undefined
        }
      } else {
        const inputs: Record<string, unknown> = {}
        for (const [input, source] of Object.entries(node.inputs)) inputs[input] = valueOf(source)
        const context: Process.Context = {
          pipeline: pipeline.name,
          ...(node.branch !== undefined ? { name } : {}),
          inputs,
          sources: node.sources,
          parameters: node.parameters,
          // A data branch is keyed by its partition, which is its share of the data: not by the file's digest.
          data: node.inData ? undefined : options.data,
          running
        }
        const upstreamKeys: Record<string, string> = {}
        for (const up of ups) upstreamKeys[up] = done.get(up)!.report.key
        const one = options.dryRun
          ? peek(process, context)
          : semaphore.withPermits(1)(
            options.execute !== undefined ? options.execute({ node, context, upstreamKeys }) : Process.execute<R>(process, context)
          )
        result = yield* node.rootSeed === undefined ? one : Effect.provideService(one, Reproducibility.RootSeed, node.rootSeed)
        if (node.split !== undefined && result.outputs !== undefined) result = yield* splitOutput(node, result, partitions)
      }
      done.set(name, result)
      const branched = node.branch === undefined ? result.report : withBranch(result.report, node)
      const report = options.dryRun ? { ...branched, upstream: ups } : branched
      reported.set(name, report)
      yield* Deferred.succeed(results.get(name)!, { report, outputs: result.outputs })
    })

    const collector = Metrics.makeCollector()
    const report = Effect.fnUntraced(function*(interrupted: boolean) {
      const now = yield* internal.monotonicMs
      const processes = validated.order.map((name): ProcessReport => {
        const finished = reported.get(name)
        if (finished !== undefined) return finished
        const node = validated.nodes.get(name)!
        const inProgress = running.get(name)
        const line: ProcessReport = inProgress !== undefined
          ? { name, status: "interrupted", key: inProgress.key, durationMs: now - inProgress.startedMs, steps: inProgress.steps }
          : { name, status: "skipped", key: "", durationMs: 0, steps: [], error: "the run was interrupted before it started" }
        return node.branch === undefined ? line : withBranch(line, node)
      })
      const failed = processes.some((p) => p.status === "failed" || p.status === "skipped")
      return {
        run: {
          id: options.runId ?? makeRunId(startedAt),
          pipeline: pipeline.name,
          status: interrupted ? "interrupted" : failed ? "failed" : "success",
          seed,
          backend: cache.backend,
          startedAt,
          durationMs: now - started,
          ...(options.dryRun ? { dryRun: true } : {})
        },
        processes,
        metrics: collector.metrics
      } satisfies RunReport
    })
    // An interrupted run still says what it did: the processes that finished
    // (their entries are stored), those it interrupted, those it never started.
    const onInterrupt = Effect.gen(function*() {
      const partial = yield* report(true)
      for (const p of partial.processes) {
        if (p.status === "interrupted") {
          yield* RunEvents.emit({
            kind: "process",
            phase: "interrupt",
            process: p.name,
            key: p.key,
            durationMs: p.durationMs,
            ...(p.base !== undefined ? { base: p.base } : {})
          })
        }
      }
      if (options.onInterrupt !== undefined) yield* options.onInterrupt(partial)
    })
    yield* Effect.forEach(validated.order, runOne, { concurrency: "unbounded", discard: true }).pipe(
      Effect.provideService(Metrics.CurrentCollector, collector),
      Effect.provideContext(provided),
      Effect.onInterrupt(() => onInterrupt)
    )
    return yield* report(false)
  }
)

/**
 * The context a node of a plan runs in, given the outputs of its upstream
 * processes (read from the cache by a cluster runner): its inputs wired as
 * `runPlan` wires them, a split output cut into its partitions. Fails with
 * the reason when an upstream output is missing or cannot be split.
 *
 * @since 0.1.0
 */
export const contextOf = (
  validated: Plan<unknown>,
  name: string,
  upstream: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
  data: ExecuteOptions["data"]
): Result.Result<Process.Context, string> => {
  const node = validated.nodes.get(name)
  if (node === undefined) return Result.fail(`the pipeline has no process ${name}`)
  const partitions = new Map<string, ReadonlyArray<unknown>>()
  for (const up of node.upstream) {
    const split = validated.nodes.get(up)?.split
    if (split === undefined) continue
    const parts = Fanout.split(upstream.get(up)?.[split.output], split.size)
    if (Result.isFailure(parts)) return Result.fail(`cannot split output ${split.output} of ${up}: ${parts.failure}`)
    partitions.set(up, parts.success)
  }
  const missing = node.upstream.filter((up) => !upstream.has(up))
  if (missing.length > 0) return Result.fail(`no outputs of ${listNames(missing)}`)
  const valueOf = (source: Source): unknown => {
    if (source._tag === "Record") {
      const record: Record<string, unknown> = {}
      for (const [label, entry] of source.entries) record[label] = valueOf(entry)
      return record
    }
    return source.partition === undefined ? upstream.get(source.node)![source.output] : partitions.get(source.node)![source.partition - 1]
  }
  const inputs: Record<string, unknown> = {}
  for (const [input, source] of Object.entries(node.inputs)) inputs[input] = valueOf(source)
  return Result.succeed({
    pipeline: validated.pipeline.name,
    ...(node.branch !== undefined ? { name } : {}),
    inputs,
    sources: node.sources,
    parameters: node.parameters,
    data: node.inData ? undefined : data
  })
}

/** A list of process names in a message, shortened when a fan-out made it long. */
const listNames = (names: ReadonlyArray<string>): string =>
  names.length <= 4 ? names.join(", ") : `${names.slice(0, 3).join(", ")}, … (${names.length} in all)`

/** A branch's report line: its own name, then what it is a copy of. */
const withBranch = (report: ProcessReport, node: Node): ProcessReport => {
  const { name, ...rest } = report
  return { name, base: node.base, branch: node.branch!, ...rest }
}

/**
 * Splits the output a node opens a data layer with into its partitions. A
 * split that cannot be made (row counts that do not add up, a value that is
 * not an array) fails the node, naming its setting: its dependents are
 * skipped. Its entry stays stored: the output itself was fine.
 */
const splitOutput = Effect.fnUntraced(function*(node: Node, result: Process.Result, partitions: Map<string, ReadonlyArray<unknown>>) {
  const { at, output, size } = node.split!
  const parts = Fanout.split(result.outputs![output], size)
  if (Result.isSuccess(parts)) {
    partitions.set(node.name, parts.success)
    return result
  }
  const error = `data_parallelism of ${node.base}${at !== undefined ? ` (${at})` : ""}: cannot split output ${output}: ${parts.failure}`
  yield* RunEvents.emit({
    kind: "process",
    phase: "fail",
    process: node.name,
    key: result.report.key,
    error,
    ...(node.branch !== undefined ? { base: node.base } : {})
  })
  return {
    report: { ...result.report, status: "failed", error },
    outputs: undefined
  } satisfies Process.Result
})

/** Dry run of one process: compute its key and look it up, running nothing. */
const peek = Effect.fnUntraced(
  function*(process: Process.Any, context: Process.Context) {
    const cache = yield* Cache
    const name = context.name ?? process.name
    const { key, recipe } = yield* Process.recipe(process, context)
    const hit = yield* cache.lookup(key, process.outputs, recipe.seed)
    if (hit._tag === "Some") {
      return {
        report: { name, status: "cached", key: hit.value.manifest.key, durationMs: 0, savedMs: hit.value.manifest.durationMs, steps: [] },
        outputs: hit.value.value
      } satisfies Process.Result
    }
    return {
      report: { name, status: "would-run", key, durationMs: 0, steps: [], reason: "no entry for its key" },
      outputs: undefined
    } satisfies Process.Result
  },
  (effect, process, context) =>
    Effect.catch(effect, (error) =>
      Effect.succeed<Process.Result>({
        report: { name: context.name ?? process.name, status: "failed", key: "", durationMs: 0, steps: [], error: error.message },
        outputs: undefined
      }))
)

/**
 * A new run id, sortable by time and unique by a random suffix:
 * `20261126T233204Z-3fa9c1`. A caller that records a run as it goes makes
 * it first and passes it as `runId`.
 *
 * @since 0.1.0
 */
export const makeRunId: (startedAt: number) => string = RunRecords.makeRunId
