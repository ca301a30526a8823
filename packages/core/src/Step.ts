/**
 * A step: a named, typed unit of work whose result is cached.
 *
 * ```ts
 * const normalise = Step.make({
 *   name: "normalise",
 *   input: Schema.Array(Schema.Finite),
 *   output: Schema.Array(Schema.Finite),
 *   run: function*(xs) {
 *     const max = Math.max(...xs)
 *     return xs.map((x) => x / max)
 *   }
 * })
 *
 * const ys = yield* normalise([1, 2, 4])
 * ```
 *
 * Calling a step computes its key from the schema-encoded input and config,
 * the schemas and the fingerprint of `run`; on a hit the stored output is
 * decoded and `run` does not execute; on a miss `run` executes with `Random`
 * seeded with the call's derived seed, what it uses is traced (the files it
 * reads, whether it draws random numbers: see `Trace`), and its output is
 * stored with that trace. An entry is served while its trace holds: its
 * files unchanged, and the same seed if it drew. A failure of `run` is
 * passed on unchanged and nothing is stored.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { Cache, type CacheError } from "./Cache.ts"
import * as CanonicalHash from "./CanonicalHash.ts"
import * as CodeFingerprint from "./CodeFingerprint.ts"
import * as internal from "./internal/encoding.ts"
import * as Metrics from "./Metrics.ts"
import * as Failure from "./Failure.ts"
import { CurrentCaller, CurrentProcess, nextOccurrence } from "./internal/scope.ts"
import * as Recipe from "./Recipe.ts"
import * as Reproducibility from "./Reproducibility.ts"
import * as RunEvents from "./RunEvents.ts"
import * as SchemaFingerprint from "./SchemaFingerprint.ts"
import * as Trace from "./Trace.ts"

/**
 * A schema usable for cached values: no services needed to encode or decode.
 *
 * @since 0.1.0
 */
export type Codec<A> = Schema.Codec<A, any, never, never>

/**
 * The schema of a step without configuration.
 *
 * @since 0.1.0
 */
export const NoConfig: Codec<void> = Schema.Void as any

/**
 * @since 0.1.0
 */
export interface Step<in out I, in out O, in out C, out E, out R> extends Pipeable {
  (input: I, ...config: [C] extends [void] ? [] : [config: C]): Effect.Effect<O, E | CacheError, R | Cache>
  readonly name: string
  readonly version: string | undefined
  readonly input: Codec<I>
  readonly output: Codec<O>
  readonly config: Codec<C>
  /** Fingerprint of the code closure of `run` and the definition, with `version` and `captures` (see `CodeFingerprint`). */
  readonly code: string
  /** What `code` is made of, for explaining a change. */
  readonly codeParts: ReadonlyArray<CodeFingerprint.Part>
  /** What the fingerprint could not see, or found worth saying. */
  readonly diagnostics: ReadonlyArray<CodeFingerprint.Diagnostic>
  /** Fingerprints of the input, output and config schemas. */
  readonly schemas: { readonly input: string; readonly output: string; readonly config: string }
}

/**
 * A step of any type.
 *
 * @since 0.1.0
 */
export interface Any {
  readonly name: string
  readonly code: string
}

/**
 * @since 0.1.0
 */
export interface Options<I, O, C> {
  readonly name: string
  readonly input: Codec<I>
  readonly output: Codec<O>
  /** Schema of the step's configuration; part of the key. */
  readonly config?: Codec<C> | undefined
  /** Mixed into the key: bump it to invalidate entries when something the fingerprint cannot see changed. */
  readonly version?: string | undefined
  /**
   * Values the body reads from enclosing functions (a step made by a
   * factory), canonically hashed into the key. Without them such a body is a
   * definition error, since the key could not see those values.
   */
  readonly captures?: Readonly<Record<string, unknown>> | undefined
  /**
   * Accepted for compatibility: the steps a body calls are found in its code
   * closure, listed or not.
   */
  readonly steps?: ReadonlyArray<Any> | undefined
}

/**
 * The effect a body returns: a generator (as in `Effect.gen`) or an Effect.
 *
 * @since 0.1.0
 */
export type Body<I, C, O, Eff extends Effect.Effect<any, any, any>> = (
  input: I,
  config: C
) => Generator<Eff, O, never> | Eff & Effect.Effect<O, any, any>

/**
 * @since 0.1.0
 */
export type ErrorOf<Eff> = [Eff] extends [never] ? never : Eff extends Effect.Effect<any, infer E, any> ? E : never
/**
 * @since 0.1.0
 */
export type ContextOf<Eff> = [Eff] extends [never] ? never : Eff extends Effect.Effect<any, any, infer R> ? R : never

/**
 * Gives a function the read-only properties of a step or process. (`name` is
 * a non-writable property of every function, so plain assignment fails.)
 *
 * @internal
 */
export const defineCallable = <F extends Function>(fn: F, properties: Record<string, unknown>): unknown => {
  for (const [key, value] of Object.entries(properties)) {
    Object.defineProperty(fn, key, { value, enumerable: true })
  }
  Object.defineProperty(fn, "pipe", {
    value(this: unknown) {
      return pipeArguments(this, arguments)
    }
  })
  return fn
}

/**
 * Runs a body written as a generator function or as a function returning an Effect.
 *
 * @internal
 */
export const runBody = <A>(result: unknown): Effect.Effect<A, any, any> =>
  Effect.isEffect(result) ? result as Effect.Effect<A> : Effect.gen(() => result as Generator<any, A, never>)

/**
 * Defines a step.
 *
 * @since 0.1.0
 */
export const make = <I, O, C = void, Eff extends Effect.Effect<any, any, any> = never>(
  options: Options<I, O, C> & { readonly run: Body<I, C, O, Eff> }
): Step<I, O, C, ErrorOf<Eff>, ContextOf<Eff>> => {
  const { name, output, version } = options
  const input = options.input
  const config = options.config ?? (NoConfig as unknown as Codec<C>)
  const owner = `step ${name}`
  const fingerprint = CodeFingerprint.fingerprint({
    owner,
    body: options.run,
    sites: CodeFingerprint.callSites(),
    version,
    captures: options.captures
  })
  CodeFingerprint.report(fingerprint.diagnostics)
  const { code, parts: codeParts } = fingerprint
  const schemas = {
    input: SchemaFingerprint.fingerprint(input),
    output: SchemaFingerprint.fingerprint(output),
    config: SchemaFingerprint.fingerprint(config)
  }

  // What every call's key shares is encoded once (the same key as Recipe.key).
  const keyOf = Recipe.keyer({ kind: "step", name, format: Recipe.CACHE_FORMAT_VERSION, code, version, schemas })

  // A step without a config schema hashes the same (absent) config on every
  // call: computed once, off the hit path.
  const withoutConfig = options.config === undefined
  const noConfigDigest = { digest: CanonicalHash.digest(undefined), parts: {} }

  // The hit path runs as one synchronous block on the calling fiber (its
  // services read from the fiber, encodings and hashes as plain calls), then
  // one `memoize`: a hit costs a few steps of the Effect runtime, not a
  // generator with a dozen yields.
  const call = (value: I, configValue?: C): Effect.Effect<O, CacheError, Cache> =>
    Effect.withFiber((fiber) => {
      const caller = fiber.getRef(CurrentCaller)
      const cache = Context.getUnsafe(fiber.context, Cache)
      const scope = fiber.getRef(CurrentProcess)
      const root = fiber.getRef(Reproducibility.RootSeed)
      // The body calling this step: what the step uses, it uses too.
      const enclosing = fiber.getRef(Trace.CurrentTrace)
      const encodedInput = internal.encode(input, value, owner, "input")
      if (encodedInput._tag === "Failure") return encodedInput
      const inputDigest = internal.digestParts(encodedInput.value, owner, "input")
      if (inputDigest._tag === "Failure") return inputDigest
      let encodedConfig: unknown = undefined
      let configDigest = noConfigDigest
      if (!withoutConfig) {
        const encoded = internal.encode(config, configValue as C, owner, "config")
        if (encoded._tag === "Failure") return encoded
        const digested = internal.digestParts(encoded.value, owner, "config")
        if (digested._tag === "Failure") return digested
        encodedConfig = encoded.value
        configDigest = digested.value
      }
      // The call's identity: where it is called from, what it is called with,
      // and which of the identical calls there it is. Its seed derives from it.
      const occurrence = caller === undefined ? 0 : nextOccurrence(caller, `${name}\0${inputDigest.value.digest}\0${configDigest.digest}`)
      const identity = caller === undefined
        ? ["", "", name, inputDigest.value.digest, configDigest.digest, occurrence]
        : [...caller.identity, name, inputDigest.value.digest, configDigest.digest, occurrence]
      // Derived when needed (a miss, or checking the trace of an entry that
      // drew random numbers): a hit of any other entry hashes one thing less.
      let derived: number | undefined
      const seed = () => derived ??= Reproducibility.derive(root, identity)
      // Stored with the entry: built on a miss only.
      const recipe = (): Recipe.Recipe => ({
        kind: "step",
        name,
        format: Recipe.CACHE_FORMAT_VERSION,
        code,
        codeParts,
        version,
        input: inputDigest.value.digest,
        inputParts: inputDigest.value.parts,
        config: configDigest.digest,
        configValue: encodedConfig ?? null,
        schemas,
        seed: seed(),
        rootSeed: root,
        process: scope?.process,
        pipeline: scope?.pipeline
      })
      const key = keyOf({ input: inputDigest.value.digest, config: configDigest.digest })
      const process = scope?.process ?? ""
      const events = fiber.getRef(RunEvents.RunEvents)
      const silent = events === RunEvents.silent
      const emit = (phase: RunEvents.Phase, extra?: Partial<RunEvents.RunEvent>) =>
        events.emit({ kind: "step", phase, process, step: name, key, ...extra })
      const clock = fiber.getRef(Clock.Clock)
      const memoized = () => {
        const started = internal.monotonicMsOf(clock)
        // The metrics the body logs are stored with its entry, and replayed when the entry is served.
        const logged: Array<Metrics.Metric> = []
        const call = cache.memoize({
          key,
          recipe,
          schema: output,
          seed,
          compute: Effect.suspend(() =>
            RunEvents.within(
              events,
              { kind: "step", phase: "start", process, step: name, key },
              runBody<O>(options.run(value, configValue as C)).pipe(
                Effect.provideService(Metrics.CurrentStep, name),
                Effect.provideService(CurrentCaller, { identity, occurrences: new Map() }),
                Metrics.recordInto(logged)
              )
            )
          ),
          onMiss: silent ? undefined : emit("miss"),
          onWait: silent ? undefined : emit("wait"),
          metrics: () => logged
        })
        // Inside a body, the cache's work for this call is not the body's (the step's own body is traced on its own).
        return Effect.matchCauseEffect(
          enclosing === undefined ? call : Trace.outside(call),
          {
            onSuccess: (outcome): Effect.Effect<O> => {
              const durationMs = internal.monotonicMsOf(clock) - started
              if (enclosing !== undefined) Trace.absorb(enclosing, outcome.trace)
              const status = outcome.cached ? "cached" : "executed"
              const waitedMs = outcome.waitedMs
              scope?.steps.push(
                waitedMs === undefined
                  ? { name, status, key: outcome.key, durationMs }
                  : { name, status, key: outcome.key, durationMs, waitedMs }
              )
              const done: Effect.Effect<O> = silent
                ? Exit.succeed(outcome.value)
                : Effect.as(
                  emit(
                    outcome.cached ? "hit" : "store",
                    outcome.cached
                      ? { durationMs, waitedMs, savedMs: outcome.savedMs, bytesRead: outcome.bytes }
                      : { durationMs, waitedMs, bytesWritten: outcome.bytes }
                  ),
                  outcome.value
                )
              // A hit whose entry has no metrics replays nothing, at no cost.
              return outcome.cached && outcome.metrics !== undefined && outcome.metrics.length > 0
                ? Effect.andThen(Metrics.replay(outcome.metrics), done)
                : done
            },
            onFailure: (cause) => {
              const durationMs = internal.monotonicMsOf(clock) - started
              const failure = Failure.fromCause(cause)
              scope?.steps.push({ name, status: "failed", key, durationMs, ...failure })
              return silent
                ? Exit.failCause(cause)
                : Effect.andThen(emit("fail", { durationMs, error: failure.error, location: failure.location }), Exit.failCause(cause))
            }
          }
        )
      }
      return silent ? memoized() : Effect.andThen(emit("start"), Effect.suspend(memoized))
    }) as Effect.Effect<O, CacheError, Cache>

  return defineCallable(call, {
    name,
    version,
    input,
    output,
    config,
    code,
    codeParts,
    diagnostics: fingerprint.diagnostics,
    schemas
  }) as Step<I, O, C, ErrorOf<Eff>, ContextOf<Eff>>
}
