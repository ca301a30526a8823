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
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { Cause, Clock, Context, Deferred, Effect, Exit, Layer, Schema, SchemaAST, Semaphore } from "effect"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { Cache } from "./Cache.ts"
import * as internal from "./internal/encoding.ts"
import type * as CodeFingerprint from "./CodeFingerprint.ts"
import * as Failure from "./Failure.ts"
import { errorMessage } from "./internal/errors.ts"
import * as Metrics from "./Metrics.ts"
import * as Process from "./Process.ts"
import { LayerError, PipelineValidationError, type Problem } from "./PipelineError.ts"
import * as Reproducibility from "./Reproducibility.ts"
import * as RunEvents from "./RunEvents.ts"
import type { ProcessReport, RunReport } from "./RunReport.ts"

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
const buildServices = (pipeline: Pipeline<unknown>, options: RunOptions) =>
  Effect.gen(function*() {
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
 * How to run a pipeline.
 *
 * @since 0.1.0
 */
export interface RunOptions {
  /** The config's `process_adjlist`, added to the pipeline's own edges. */
  readonly adjlist?: string | undefined
  /** Raw parameters per process name, as written in the config; decoded with each process's schema. */
  readonly parameters?: Readonly<Record<string, unknown>> | undefined
  /** At most this many processes run at once. Default 4. */
  readonly concurrency?: number | undefined
  /** The project's data file; its digest is part of every process key. */
  readonly data?: { readonly path: string; readonly digest: string } | undefined
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
}

/**
 * A validated pipeline, ready to run.
 *
 * @since 0.1.0
 */
export interface Plan {
  /** Process names in a topological order (ties broken by declaration order). */
  readonly order: ReadonlyArray<string>
  readonly processes: ReadonlyMap<string, Process.Any>
  readonly upstream: ReadonlyMap<string, ReadonlyArray<string>>
  /** For each process, which upstream provides each of its inputs. */
  readonly sources: ReadonlyMap<string, Readonly<Record<string, string>>>
  readonly parameters: ReadonlyMap<string, unknown>
}

const outputNames = (p: Process.Any): Array<string> => Object.keys(p.outputs.fields)

/**
 * Validates a pipeline and its configuration. Every problem is reported at
 * once, each naming the processes involved.
 *
 * @since 0.1.0
 */
export const plan = (pipeline: Pipeline<unknown>, options: RunOptions = {}): Effect.Effect<Plan, PipelineValidationError> =>
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
          message: `parameters are given for unknown process ${name} (known: ${Array.from(processes.keys()).join(", ")})`
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
      const decoded = Schema.decodeUnknownExit(p.parameters)(raw, { onExcessProperty: "error" })
      if (Exit.isSuccess(decoded)) parameters.set(name, decoded.value)
      else {
        problems.push({
          code: "invalid-parameters",
          processes: [name],
          message: `parameters of process ${name}: ${errorMessage(decoded.cause).replace(/\n\s*/g, " ")}`
        })
      }
    }
    const validated = { order: order.order, processes, upstream, sources, parameters }
    // Without any layer, a service the caller does not provide cannot be there (with one, `run` checks once it is built).
    if (pipeline.layer !== undefined || options.layer !== undefined || options.dryRun) {
      return problems.length > 0 ? Effect.fail(new PipelineValidationError({ pipeline: pipeline.name, problems })) : Effect.succeed(validated)
    }
    return Effect.flatMap(keysInContext, (ambient) => {
      for (const need of services(pipeline)) if (!ambient.has(need.service.key)) problems.push(missingService(need, false))
      return problems.length > 0 ? Effect.fail(new PipelineValidationError({ pipeline: pipeline.name, problems })) : Effect.succeed(validated)
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
 * Runs a pipeline and returns its run report. Fails only when the pipeline
 * is invalid (before anything runs); a failing process is reported, not
 * raised.
 *
 * @since 0.1.0
 */
export const run = <R>(
  pipeline: Pipeline<R>,
  options: RunOptions = {}
): Effect.Effect<RunReport, PipelineValidationError | LayerError, Cache | R> =>
  Effect.scoped(Effect.gen(function*() {
    const validated = yield* plan(pipeline, options)
    // The services of the user's layers, built before anything runs and released when the run ends.
    const provided = options.dryRun ? Context.empty() : yield* buildServices(pipeline, options)
    const cache = yield* Cache
    const seed = yield* Reproducibility.RootSeed
    const startedAt = yield* Clock.currentTimeMillis
    const started = yield* internal.monotonicMs
    const semaphore = yield* Semaphore.make(Math.max(1, options.concurrency ?? 4))
    const results = new Map(validated.order.map((name) => [name, Deferred.makeUnsafe<Process.Result>()]))
    /** The results in, by process: what an interrupted run still reports. */
    const done = new Map<string, ProcessReport>()
    /** The processes running now, with the steps they have finished. */
    const running = new Map<string, Process.Running>()

    const runOne = Effect.fnUntraced(function*(name: string) {
      const process = validated.processes.get(name)!
      const ups = validated.upstream.get(name)!
      const upstreamResults = yield* Effect.forEach(ups, (up) => Deferred.await(results.get(up)!))
      const blocked = ups.filter((_, i) => upstreamResults[i]!.outputs === undefined)
      let result: Process.Result
      if (blocked.length > 0 && !options.dryRun) {
        yield* RunEvents.emit({ kind: "process", phase: "skip", process: name })
        result = {
          report: { name, status: "skipped", key: "", durationMs: 0, steps: [], error: `upstream ${blocked.join(", ")} did not succeed` },
          outputs: undefined
        }
      } else if (blocked.length > 0) {
        result = {
          report: { name, status: "would-run", key: "", durationMs: 0, steps: [], reason: `its inputs come from ${blocked.join(", ")}, which would run` },
          outputs: undefined
        }
      } else {
        const inputs: Record<string, unknown> = {}
        const sources = validated.sources.get(name)!
        for (const [input, from] of Object.entries(sources)) {
          inputs[input] = upstreamResults[ups.indexOf(from)]!.outputs![input]
        }
        const context: Process.Context = {
          pipeline: pipeline.name,
          inputs,
          sources,
          parameters: validated.parameters.get(name),
          data: options.data,
          running
        }
        result = yield* options.dryRun ? peek(process, context) : semaphore.withPermits(1)(Process.execute<R>(process, context))
      }
      done.set(name, result.report)
      yield* Deferred.succeed(results.get(name)!, result)
    })

    const collector = Metrics.makeCollector()
    const report = Effect.fnUntraced(function*(interrupted: boolean) {
      const now = yield* internal.monotonicMs
      const processes = validated.order.map((name): ProcessReport => {
        const finished = done.get(name)
        if (finished !== undefined) return finished
        const inProgress = running.get(name)
        return inProgress !== undefined
          ? { name, status: "interrupted", key: inProgress.key, durationMs: now - inProgress.startedMs, steps: inProgress.steps }
          : { name, status: "skipped", key: "", durationMs: 0, steps: [], error: "the run was interrupted before it started" }
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
        if (p.status === "interrupted") yield* RunEvents.emit({ kind: "process", phase: "interrupt", process: p.name, key: p.key, durationMs: p.durationMs })
      }
      if (options.onInterrupt !== undefined) yield* options.onInterrupt(partial)
    })
    yield* Effect.forEach(validated.order, runOne, { concurrency: "unbounded", discard: true }).pipe(
      Effect.provideService(Metrics.CurrentCollector, collector),
      Effect.provideContext(provided),
      Effect.onInterrupt(() => onInterrupt)
    )
    return yield* report(false)
  }))

/** Dry run of one process: compute its key and look it up, running nothing. */
const peek = (process: Process.Any, context: Process.Context): Effect.Effect<Process.Result, never, Cache> =>
  Effect.gen(function*() {
    const cache = yield* Cache
    const { key } = yield* Process.recipe(process, context)
    const hit = yield* cache.lookup(key, process.outputs)
    if (hit._tag === "Some") {
      return {
        report: { name: process.name, status: "cached", key, durationMs: 0, savedMs: hit.value.manifest.durationMs, steps: [] },
        outputs: hit.value.value
      } satisfies Process.Result
    }
    return {
      report: { name: process.name, status: "would-run", key, durationMs: 0, steps: [], reason: "no entry for its key" },
      outputs: undefined
    } satisfies Process.Result
  }).pipe(
    Effect.catch((error) =>
      Effect.succeed<Process.Result>({
        report: { name: process.name, status: "failed", key: "", durationMs: 0, steps: [], error: error.message },
        outputs: undefined
      })
    )
  )

/** Sortable by time, unique by a random suffix: `20261126T233204Z-3fa9c1`. */
const makeRunId = (startedAt: number): string =>
  `${new Date(startedAt).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`
