/**
 * Run events: what happens to each process and step as a run goes, for live
 * progress and for building reports. The default listener does nothing.
 *
 * Phases: `start` (about to look up), `hit` (served from cache), `miss` (not
 * found, about to run), `store` (ran and stored), `fail` (the body failed;
 * nothing stored), `skip` (a process not run because an upstream failed),
 * `interrupt` (a process running when the run was interrupted).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * @since 0.1.0
 */
export type Phase = "start" | "hit" | "miss" | "store" | "fail" | "skip" | "interrupt"

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
  readonly error?: string | undefined
  /** For `fail`: where in the user's source the error was raised (`src/train.ts:95:12`), when known. */
  readonly location?: string | undefined
  /** Cluster runs, for `store` and `fail`: the runner that ran it. */
  readonly runner?: string | undefined
}

/**
 * @since 0.1.0
 */
export interface Shape {
  readonly emit: (event: RunEvent) => Effect.Effect<void>
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
export const layer = (listener: (event: RunEvent) => Effect.Effect<void>): Layer.Layer<never> =>
  Layer.succeed(RunEvents, { emit: listener })

/**
 * @since 0.1.0
 */
export const emit = (event: RunEvent): Effect.Effect<void> => RunEvents.use((events) => events.emit(event))
