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
import { Clock, Deferred, Effect, Result, type Schema, SchemaAST, SchemaParser, Semaphore } from "effect"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { Cache } from "./Cache.ts"
import * as internal from "./internal/encoding.ts"
import * as Issues from "./internal/issues.ts"
import * as Metrics from "./Metrics.ts"
import * as Process from "./Process.ts"
import { PipelineValidationError, type Problem } from "./PipelineError.ts"
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
  /** Phantom: the services the processes' bodies need. */
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
 * Defines a pipeline.
 *
 * @since 0.1.0
 */
export const make = <const Ps extends ReadonlyArray<Process.Any>>(options: {
  readonly name: string
  readonly processes: Ps
  readonly edges?: ReadonlyArray<Edge> | undefined
}): Pipeline<ContextOfProcesses<Ps>> => ({
  "~expops/Pipeline": true,
  name: options.name,
  processes: options.processes,
  edges: options.edges ?? [],
  pipe() {
    return pipeArguments(this, arguments)
  }
} as any)

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
  /** Compute keys and look them up; run nothing, store nothing. */
  readonly dryRun?: boolean | undefined
  readonly runId?: string | undefined
}

/**
 * How to run a pipeline: how to plan it, then how to run the plan.
 *
 * @since 0.1.0
 */
export interface RunOptions extends PlanOptions, ExecuteOptions {}

/**
 * A validated pipeline, ready to run.
 *
 * @since 0.1.0
 */
export interface Plan<out R> {
  readonly pipeline: Pipeline<R>
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
export const plan = <R>(pipeline: Pipeline<R>, options: PlanOptions = {}): Effect.Effect<Plan<R>, PipelineValidationError> =>
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
    if (problems.length > 0) return Effect.fail(new PipelineValidationError({ pipeline: pipeline.name, problems }))
    return Effect.succeed({ pipeline, order: order.order, processes, upstream, sources, parameters })
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
 * only when the pipeline is invalid (before anything runs); a failing
 * process is reported, not raised.
 *
 * @since 0.1.0
 */
export const run = <R>(
  pipeline: Pipeline<R>,
  options: RunOptions = {}
): Effect.Effect<RunReport, PipelineValidationError, Cache | R> =>
  Effect.flatMap(plan(pipeline, options), (planned) => runPlan(planned, options))

/**
 * Runs a plan (validated by `plan`) and returns its run report. Never
 * fails: a failing process is reported, and its dependents are skipped.
 *
 * @since 0.1.0
 */
export const runPlan = Effect.fnUntraced(
  function*<R>(validated: Plan<R>, options: ExecuteOptions = {}): Effect.fn.Return<RunReport, never, Cache | R> {
    const { pipeline } = validated
    const cache = yield* Cache
    const seed = yield* Reproducibility.RootSeed
    const startedAt = yield* Clock.currentTimeMillis
    const started = yield* internal.monotonicMs
    const semaphore = yield* Semaphore.make(Math.max(1, options.concurrency ?? 4))
    const results = new Map(validated.order.map((name) => [name, Deferred.makeUnsafe<Process.Result>()]))

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
          data: options.data
        }
        result = yield* options.dryRun ? peek(process, context) : semaphore.withPermits(1)(Process.execute<R>(process, context))
      }
      yield* Deferred.succeed(results.get(name)!, result)
    })

    const collector = Metrics.makeCollector()
    yield* Effect.forEach(validated.order, runOne, { concurrency: "unbounded", discard: true }).pipe(
      Effect.provideService(Metrics.CurrentCollector, collector)
    )
    const processes: Array<ProcessReport> = []
    for (const name of validated.order) processes.push((yield* Deferred.await(results.get(name)!)).report)
    const failed = processes.some((p) => p.status === "failed" || p.status === "skipped")
    return {
      run: {
        id: options.runId ?? makeRunId(startedAt),
        pipeline: pipeline.name,
        status: failed ? "failed" : "success",
        seed,
        backend: cache.backend,
        startedAt,
        durationMs: (yield* internal.monotonicMs) - started,
        ...(options.dryRun ? { dryRun: true } : {})
      },
      processes,
      metrics: collector.metrics
    } satisfies RunReport
  }
)

/** Dry run of one process: compute its key and look it up, running nothing. */
const peek = Effect.fnUntraced(
  function*(process: Process.Any, context: Process.Context) {
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
  },
  (effect, process) =>
    Effect.catch(effect, (error) =>
      Effect.succeed<Process.Result>({
        report: { name: process.name, status: "failed", key: "", durationMs: 0, steps: [], error: error.message },
        outputs: undefined
      }))
)

/** Sortable by time, unique by a random suffix: `20261126T233204Z-3fa9c1`. */
const makeRunId = (startedAt: number): string =>
  `${new Date(startedAt).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`
