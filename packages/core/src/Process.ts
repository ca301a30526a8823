/**
 * A process: a named group of steps with typed inputs, parameters and
 * outputs, cached as one unit.
 *
 * ```ts
 * const prepare = Process.make({
 *   name: "prepare",
 *   inputs: { rows: Rows },                      // from upstream outputs, by name
 *   parameters: { test_size: Schema.Finite },    // from the project config
 *   outputs: { train: Rows, test: Rows },        // offered to downstream processes
 *   run: function*({ rows }, { test_size }) {
 *     const shuffled = yield* shuffle(rows)
 *     return yield* split({ rows: shuffled, test_size })
 *   }
 * })
 * ```
 *
 * Before a process runs its key is computed from its inputs, parameters,
 * schemas, code fingerprint (the code closure of its body, which reaches the
 * steps it calls), derived seed and the project's data file digest.
 * On a hit its outputs are decoded and none of its steps run. On a miss its
 * body runs, and every step it calls checks its own cache, so only the steps
 * whose keys changed execute.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import type { Pipeable } from "effect/Pipeable"
import { Cache } from "./Cache.ts"
import * as CodeFingerprint from "./CodeFingerprint.ts"
import type { EncodeError } from "./EncodeError.ts"
import * as internal from "./internal/encoding.ts"
import * as Failure from "./Failure.ts"
import { type Caller, CurrentCaller, CurrentProcess, type ProcessScope } from "./internal/scope.ts"
import * as Metrics from "./Metrics.ts"
import * as Recipe from "./Recipe.ts"
import * as Reproducibility from "./Reproducibility.ts"
import * as RunEvents from "./RunEvents.ts"
import type { ProcessReport, StepReport } from "./RunReport.ts"
import * as SchemaFingerprint from "./SchemaFingerprint.ts"
import type * as Step from "./Step.ts"
import { type ContextOf, defineCallable, type ErrorOf, runBody } from "./Step.ts"

/**
 * Field schemas of inputs, parameters or outputs. Each must encode and decode
 * without services.
 *
 * @since 0.1.0
 */
export type Fields = { readonly [name: string]: Schema.Top & { readonly DecodingServices: never; readonly EncodingServices: never } }

/**
 * @since 0.1.0
 */
export type TypeOf<F extends Fields> = Schema.Struct<F>["Type"]

/**
 * @since 0.1.0
 */
export interface Process<
  in out In extends Fields,
  in out P extends Fields,
  in out Out extends Fields,
  out E,
  out R
> extends Pipeable {
  readonly name: string
  readonly version: string | undefined
  readonly inputs: Schema.Struct<In>
  readonly parameters: Schema.Struct<P>
  readonly outputs: Schema.Struct<Out>
  /** Fingerprint of the code closure of `run` and the definition (see `CodeFingerprint`). */
  readonly code: string
  /** What `code` is made of, for explaining a change. */
  readonly codeParts: ReadonlyArray<CodeFingerprint.Part>
  /** What the fingerprint could not see, or found worth saying. */
  readonly diagnostics: ReadonlyArray<CodeFingerprint.Diagnostic>
  /** The services of the user's code its body asks for, found in its code closure (see `CodeFingerprint.Service`). */
  readonly services: ReadonlyArray<CodeFingerprint.Service>
  readonly run: (inputs: TypeOf<In>, parameters: TypeOf<P>) => Effect.Effect<TypeOf<Out>, E, R>
}

/**
 * A process of any type, as held by a pipeline.
 *
 * @since 0.1.0
 */
export interface Any extends Pipeable {
  readonly name: string
  readonly version: string | undefined
  readonly code: string
  /** What `code` is made of, for explaining a change. */
  readonly codeParts: ReadonlyArray<CodeFingerprint.Part>
  readonly diagnostics: ReadonlyArray<CodeFingerprint.Diagnostic>
  readonly services: ReadonlyArray<CodeFingerprint.Service>
  readonly inputs: AnyStruct
  readonly parameters: AnyStruct
  readonly outputs: AnyStruct
  readonly run: (inputs: any, parameters: any) => Effect.Effect<any, any, any>
}

/**
 * A struct schema of any fields that needs no services.
 *
 * @since 0.1.0
 */
export type AnyStruct = Schema.Codec<any, any, never, never> & { readonly fields: Schema.Struct.Fields }

/**
 * Defines a process.
 *
 * @since 0.1.0
 */
export const make = <
  Out extends Fields,
  In extends Fields = {},
  P extends Fields = {},
  Eff extends Effect.Effect<any, any, any> = never
>(options: {
  readonly name: string
  readonly inputs?: In | undefined
  readonly parameters?: P | undefined
  readonly outputs: Out
  readonly version?: string | undefined
  /** Values the body reads from enclosing functions, hashed into the key (see `Step.Options.captures`). */
  readonly captures?: Readonly<Record<string, unknown>> | undefined
  /** Accepted for compatibility: the steps a body calls are found in its code closure, listed or not. */
  readonly steps?: ReadonlyArray<Step.Any> | undefined
  readonly run: (inputs: TypeOf<In>, parameters: TypeOf<P>) => Generator<Eff, TypeOf<Out>, never> | Eff & Effect.Effect<TypeOf<Out>, any, any>
}): Process<In, P, Out, ErrorOf<Eff>, ContextOf<Eff>> => {
  const name = options.name
  const fingerprint = CodeFingerprint.fingerprint({
    owner: `process ${name}`,
    body: options.run,
    sites: CodeFingerprint.callSites(),
    version: options.version,
    captures: options.captures
  })
  CodeFingerprint.report(fingerprint.diagnostics)
  const run = (inputs: TypeOf<In>, parameters: TypeOf<P>) => Effect.suspend(() => runBody(options.run(inputs, parameters)))
  return defineCallable(() => {}, {
    name,
    version: options.version,
    inputs: Schema.Struct(options.inputs ?? ({} as In)),
    parameters: Schema.Struct(options.parameters ?? ({} as P)),
    outputs: Schema.Struct(options.outputs),
    code: fingerprint.code,
    codeParts: fingerprint.parts,
    diagnostics: fingerprint.diagnostics,
    services: fingerprint.services,
    run
  }) as Process<In, P, Out, ErrorOf<Eff>, ContextOf<Eff>>
}

/**
 * What a process is run with, assembled by the pipeline.
 *
 * @since 0.1.0
 */
export interface Context {
  readonly pipeline: string
  /**
   * The name it runs under when that is not the process's own: a fan-out
   * branch's (`train_model_seed41`). Its report line, run events, step lines
   * and metrics carry it; its key and seeds follow the process's identity
   * (and the branch's root seed, inputs and partition).
   */
  readonly name?: string | undefined
  /** Decoded inputs, by name. */
  readonly inputs: Readonly<Record<string, unknown>>
  /** Which upstream process provided each input. */
  readonly sources: Readonly<Record<string, string>>
  /** Decoded parameters. */
  readonly parameters: unknown
  /** The project's data file, when one is configured. */
  readonly data?: { readonly path: string; readonly digest: string } | undefined
  /** Where a running process shows what it has done so far, by name (what an interrupted run reports). */
  readonly running?: Map<string, Running> | undefined
}

/**
 * A process in progress: its key once known, and the steps it has finished.
 *
 * @since 0.1.0
 */
export interface Running {
  key: string
  readonly startedMs: number
  readonly steps: ReadonlyArray<StepReport>
}

/**
 * The key recipe of a process run.
 *
 * @since 0.1.0
 */
export const recipe: (
  process: Any,
  context: Context
) => Effect.Effect<{ readonly recipe: Recipe.Recipe; readonly key: string }, EncodeError> = Effect.fnUntraced(
  function*(process: Any, context: Context) {
    const owner = `process ${process.name}`
    const root = yield* Reproducibility.RootSeed
    const encodedInputs = yield* internal.encode(process.inputs, context.inputs, owner, "inputs")
    const inputs = yield* internal.digestParts(encodedInputs, owner, "inputs")
    const encodedParameters = yield* internal.encode(process.parameters, context.parameters, owner, "parameters")
    const parameters = yield* internal.digestParts(encodedParameters, owner, "parameters")
    const recipe: Recipe.Recipe = {
      kind: "process",
      name: process.name,
      format: Recipe.CACHE_FORMAT_VERSION,
      code: process.code,
      codeParts: process.codeParts,
      version: process.version,
      input: inputs.digest,
      inputParts: inputs.parts,
      inputSources: context.sources,
      config: parameters.digest,
      configValue: encodedParameters,
      schemas: {
        input: SchemaFingerprint.fingerprint(process.inputs),
        output: SchemaFingerprint.fingerprint(process.outputs),
        config: SchemaFingerprint.fingerprint(process.parameters)
      },
      seed: Reproducibility.derive(root, [context.pipeline, process.name]),
      rootSeed: root,
      data: context.data?.digest,
      dataPath: context.data?.path,
      pipeline: context.pipeline
    }
    return { recipe, key: Recipe.key(recipe) }
  }
)

/**
 * The outcome of running a process: its report line, and its outputs when it
 * succeeded.
 *
 * @since 0.1.0
 */
export interface Result {
  readonly report: ProcessReport
  readonly outputs: Readonly<Record<string, unknown>> | undefined
}

/**
 * Runs a process through the cache. Never fails: a failure is reported in the
 * result, so the pipeline can skip dependents and let other branches finish.
 *
 * @since 0.1.0
 */
export const execute = Effect.fnUntraced(
  function*<R>(process: Any, context: Context): Effect.fn.Return<Result, never, Cache | R> {
    const cache = yield* Cache
    const name = context.name ?? process.name
    // Events of a branch say which process it is a copy of, for displays that group them.
    const base = context.name !== undefined ? { base: process.name } : {}
    const started = yield* internal.monotonicMs
    const scope: ProcessScope = { pipeline: context.pipeline, process: name, steps: [] }
    // Step seeds follow the process's identity: a branch differs by its root seed and its inputs.
    const caller: Caller = { identity: [context.pipeline, process.name], occurrences: new Map() }
    let key = ""
    let parameters: unknown
    const progress: Running = { key, startedMs: started, steps: scope.steps }
    context.running?.set(name, progress)
    const exit = yield* Effect.gen(function*() {
      const made = yield* recipe(process, context)
      key = made.key
      progress.key = key
      parameters = internal.jsonPicture(made.recipe.configValue)
      yield* RunEvents.emit({ kind: "process", phase: "start", process: name, key, ...base })
      // The metrics its body (and its steps) log are stored with its entry, and replayed when the entry is served.
      const logged: Array<Metrics.Metric> = []
      const outcome = yield* cache.memoize({
        key,
        recipe: made.recipe,
        schema: process.outputs,
        compute: RunEvents.within(
          yield* RunEvents.RunEvents,
          { kind: "process", phase: "start", process: name, key, ...base },
          process.run(context.inputs, context.parameters).pipe(
            Random.withSeed(made.recipe.seed),
            Effect.provideService(CurrentProcess, scope),
            Effect.provideService(CurrentCaller, caller),
            Metrics.recordInto(logged)
          )
        ),
        onMiss: RunEvents.emit({ kind: "process", phase: "miss", process: name, key, ...base }),
        onWait: RunEvents.emit({ kind: "process", phase: "wait", process: name, key, ...base }),
        metrics: () => logged
      })
      if (outcome.cached) yield* Metrics.replay(outcome.metrics)
      return outcome
    }).pipe(Effect.exit)
    const durationMs = (yield* internal.monotonicMs) - started
    if (Exit.isSuccess(exit)) {
      const { bytes, cached, savedMs, value, waitedMs } = exit.value
      const moved = cached ? { savedMs, bytesRead: bytes } : { bytesWritten: bytes }
      yield* RunEvents.emit({ kind: "process", phase: cached ? "hit" : "store", process: name, key, durationMs, waitedMs, ...moved, ...base })
      const waited = waitedMs === undefined ? {} : { waitedMs }
      const report: ProcessReport = cached
        ? { name, status: "cached", key, durationMs, savedMs, ...waited, steps: [], parameters }
        : { name, status: "executed", key, durationMs, ...waited, steps: scope.steps, parameters }
      return { report, outputs: value }
    }
    const failure = Failure.fromCause(exit.cause)
    yield* RunEvents.emit({
      kind: "process",
      phase: "fail",
      process: name,
      key,
      durationMs,
      error: failure.error,
      location: failure.location,
      ...base
    })
    const known = parameters === undefined ? {} : { parameters }
    return { report: { name, status: "failed", key, durationMs, steps: scope.steps, ...known, ...failure }, outputs: undefined }
  }
)

