/**
 * Records a run as it goes, for `expops ui` in another process: the run's
 * graph when it begins, then its events in batches (one write every
 * `FLUSH_EVERY`, not one per event, so that the cached path stays cheap).
 */
import * as os from "node:os"
import type { Pipeline } from "@expops/core"
import { type RunEvents, RunStore } from "@expops/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

const FLUSH_EVERY = "150 millis"

/**
 * @internal
 */
export interface Recorder {
  readonly emit: (event: RunEvents.RunEvent) => Effect.Effect<void>
  /** Writes what is buffered; after `close`, nothing more is written. */
  readonly flush: Effect.Effect<void>
  /** Flushes for the last time: the run is being saved, which ends it. */
  readonly close: Effect.Effect<void>
}

const none: Recorder = { emit: () => Effect.void, flush: Effect.void, close: Effect.void }

/**
 * Records run `id` of `plan` from its first event on (a run that fails
 * before any process starts, its layer say, is not shown as begun); the
 * flushing fiber ends with the scope. A store that cannot record live runs,
 * or a failure to write, costs the live view only: the run goes on (with one
 * warning).
 *
 * @internal
 */
export const record = Effect.fnUntraced(function*(
  runs: RunStore.Shape,
  plan: Pipeline.Plan<unknown>,
  run: { readonly id: string; readonly seed: number; readonly backend: string }
) {
  const live = runs.live
  if (live === undefined) return none
  /** `beginning`: claimed by the first event (processes emit concurrently), not yet written. */
  let state: "new" | "beginning" | "begun" | "off" = "new"
  let warned = false
  const warn = (error: RunStore.RunStoreError) =>
    Effect.suspend(() => {
      if (warned) return Effect.void
      warned = true
      return Effect.logWarning(`the run's progress is not recorded for \`expops ui\`: ${error.message}`)
    })
  const begin = (startedAt: number) =>
    live.begin({
      id: run.id,
      pipeline: plan.pipeline.name,
      startedAt,
      seed: run.seed,
      backend: run.backend,
      processes: plan.order.map((name) => {
        const node = plan.nodes.get(name)!
        return { name, ...(node.branch !== undefined ? { base: node.base } : {}), upstream: node.upstream }
      }),
      pid: process.pid,
      host: os.hostname()
    }).pipe(
      Effect.map(() => void (state = "begun")),
      Effect.catch((error) => Effect.andThen(Effect.sync(() => void (state = "off")), warn(error)))
    )
  let buffer: Array<RunStore.TimedEvent> = []
  const flush = Effect.suspend(() => {
    if (state !== "begun" || buffer.length === 0) return Effect.void
    const batch = buffer
    buffer = []
    return live.append(run.id, batch).pipe(Effect.catch(warn))
  })
  yield* Effect.forkScoped(Effect.repeat(flush, Schedule.spaced(FLUSH_EVERY)))
  return {
    emit: (event) =>
      state === "off" ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (at) => {
        buffer.push({ at, event })
        if (state !== "new") return Effect.void
        state = "beginning"
        return begin(at)
      }),
    flush,
    close: Effect.flatMap(flush, () => Effect.sync(() => void (state = "off")))
  } satisfies Recorder
})
