/**
 * Run events: what happens to each process and step as a run goes, for live
 * progress and for building reports. The default listener does nothing.
 *
 * Phases: `start` (about to look up), `hit` (served from cache), `miss` (not
 * found, about to run), `store` (ran and stored), `fail` (the body failed;
 * nothing stored), `skip` (a process not run because an upstream failed),
 * `interrupt` (a process running when the run was interrupted), `wait` (found
 * being computed by another run: waiting for its entry).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Tracer from "effect/Tracer"

/**
 * @since 0.1.0
 */
export type Phase = "start" | "hit" | "miss" | "store" | "fail" | "skip" | "interrupt" | "wait"

/**
 * @since 0.1.0
 */
export interface RunEvent {
  readonly kind: "process" | "step"
  readonly phase: Phase
  /** The process, and for step events the process the step ran in. */
  readonly process: string
  /** For a fan-out branch (`process` is then `train_model_seed41`): the process it is a copy of. */
  readonly base?: string | undefined
  readonly step?: string | undefined
  readonly key?: string | undefined
  readonly durationMs?: number | undefined
  /** For `hit` and `store`: time spent waiting on another run computing the same key, when there was a wait. */
  readonly waitedMs?: number | undefined
  readonly error?: string | undefined
  /** For `fail`: where in the user's source the error was raised (`src/train.ts:95:12`), when known. */
  readonly location?: string | undefined
  /** For `hit`: how long the stored entry took to compute, the time the hit saved. */
  readonly savedMs?: number | undefined
  /** For `hit`: the entry's bytes read from the cache store (0 when served by a concurrent call). */
  readonly bytesRead?: number | undefined
  /** For `store`: the entry's bytes written to the cache store (0 with the cache off). */
  readonly bytesWritten?: number | undefined
  /** Cluster runs, for `store` and `fail`: the runner that ran it. */
  readonly runner?: string | undefined
}

/**
 * @since 0.1.0
 */
export interface Shape {
  readonly emit: (event: RunEvent) => Effect.Effect<void>
  /**
   * For tracing: the span a step's or process's body runs under once it
   * computes (asked on a miss, after its `start` event), so that the spans
   * its code opens, and the steps it calls, are that span's children.
   */
  readonly spanOf?: ((event: RunEvent) => Tracer.AnySpan | undefined) | undefined
}

/**
 * @since 0.1.0
 */
export const RunEvents: Context.Reference<Shape> = Context.Reference<Shape>("expops/RunEvents", {
  defaultValue: () => silent
})

/**
 * The default listener, which ignores every event. Emitters may compare
 * against it to skip building events nobody reads.
 *
 * @since 0.1.0
 */
export const silent: Shape = { emit: () => Effect.void }

/**
 * Sends every event to `listener`.
 *
 * @since 0.1.0
 */
export const layer = (
  listener: (event: RunEvent) => Effect.Effect<void>,
  options?: { readonly spanOf?: ((event: RunEvent) => Tracer.AnySpan | undefined) | undefined }
): Layer.Layer<never> => Layer.succeed(RunEvents, { emit: listener, spanOf: options?.spanOf })

/**
 * @since 0.1.0
 */
export const emit = (event: RunEvent): Effect.Effect<void> => RunEvents.use((events) => events.emit(event))

/**
 * Runs `body`, the computation of the step or process `event` is about, under
 * the span `events.spanOf` names for it, if any.
 *
 * @since 0.1.0
 */
export const within = <A, E, R>(events: Shape, event: RunEvent, body: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const spanOf = events.spanOf
  if (spanOf === undefined) return body
  return Effect.suspend(() => {
    const span = spanOf(event)
    return span === undefined ? body : Effect.withParentSpan(body, span)
  })
}
