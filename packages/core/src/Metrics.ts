/**
 * Metrics logged from inside steps and processes (`loss`, `accuracy`, ...).
 *
 * ```ts
 * yield* Metrics.logMetric("loss", 0.42)          // index 1, then 2, 3, ...
 * yield* Metrics.logMetric("accuracy", 0.97, 10)  // an explicit index (epoch 10)
 * ```
 *
 * Each metric is recorded with the process and step it was logged in. When
 * the index is omitted it continues from the largest index logged for that
 * name in the same process and step, starting at 1. `Pipeline.run` collects
 * the metrics of a run into its report; the run store keeps them.
 *
 * Metrics travel with the cache entry of the step or process they were
 * logged in: a step or process served from the cache does not run, but the
 * metrics its entry was computed with are added to the run, marked
 * `cached: true`, so the current configuration's figures are always in the
 * report.
 *
 * Each run collects into its own collector (`Pipeline.run` provides one;
 * `collect` does the same for a step or process run on its own, as in a
 * test). Outside any run a metric is dropped, so runs in one process never
 * share metrics or index numbering.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { CurrentProcess } from "./internal/scope.ts"

/**
 * @since 0.1.0
 */
export const Metric = Schema.Struct({
  name: Schema.String,
  value: Schema.Number,
  /** The x-axis position: epoch, iteration, ... */
  index: Schema.Number,
  process: Schema.String,
  step: Schema.optionalKey(Schema.String),
  /** Logged when its entry was computed, in an earlier run: this run was served from the cache. */
  cached: Schema.optionalKey(Schema.Boolean)
})
/**
 * @since 0.1.0
 */
export type Metric = typeof Metric.Type

/**
 * Where logged metrics go during a run.
 *
 * @since 0.1.0
 */
export interface Collector {
  readonly metrics: Array<Metric>
  readonly next: Map<string, number>
}

/**
 * The collector of the current run; none outside a run. (A reference's
 * default is computed once per process, so a default collector would be
 * shared by every run that did not provide its own.)
 *
 * @since 0.1.0
 */
export const CurrentCollector = Context.Reference<Collector | undefined>("expops/Metrics/CurrentCollector", {
  defaultValue: () => undefined
})

/**
 * @since 0.1.0
 */
export const makeCollector = (): Collector => ({ metrics: [], next: new Map() })

/**
 * Runs an effect with a collector of its own and returns the metrics it
 * logged with its result: a run of a step or process outside `Pipeline.run`.
 *
 * @since 0.1.0
 */
export const collect = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<[A, ReadonlyArray<Metric>], E, R> =>
  Effect.suspend(() => {
    const collector = makeCollector()
    return effect.pipe(
      Effect.provideService(CurrentCollector, collector),
      Effect.map((a): [A, ReadonlyArray<Metric>] => [a, collector.metrics])
    )
  })

/**
 * The step a metric is logged in, set by `Step` around its body.
 *
 * @internal
 */
export const CurrentStep = Context.Reference<string | undefined>("expops/Metrics/CurrentStep", {
  defaultValue: () => undefined
})

/**
 * Where the metrics logged by the step or process computing now go besides
 * the run's collector, innermost last: each cache entry keeps the metrics it
 * was computed with.
 *
 * @internal
 */
export const CurrentRecorders = Context.Reference<ReadonlyArray<Array<Metric>>>("expops/Metrics/CurrentRecorders", {
  defaultValue: () => []
})

const add = (collector: Collector, recorders: ReadonlyArray<Array<Metric>>, metric: Metric): void => {
  const slot = `${metric.process}\0${metric.step ?? ""}\0${metric.name}`
  collector.next.set(slot, Math.max(collector.next.get(slot) ?? 1, Math.floor(metric.index) + 1))
  collector.metrics.push(metric)
  for (const recorder of recorders) recorder.push(metric)
}

/**
 * Logs a metric.
 *
 * @since 0.1.0
 */
export const logMetric: (name: string, value: number, index?: number) => Effect.Effect<void> = Effect.fnUntraced(
  function*(name: string, value: number, index?: number) {
    const collector = yield* CurrentCollector
    if (collector === undefined) return
    const scope = yield* CurrentProcess
    const step = yield* CurrentStep
    const process = scope?.process ?? ""
    const at = index ?? collector.next.get(`${process}\0${step ?? ""}\0${name}`) ?? 1
    add(collector, yield* CurrentRecorders, { name, value, index: at, process, ...(step !== undefined ? { step } : {}) })
  }
)

/**
 * Runs a computation keeping, in `into`, the metrics it logs (and those
 * replayed by the entries it is served): what its cache entry stores.
 *
 * @internal
 */
export const recordInto = (into: Array<Metric>) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(CurrentRecorders, (recorders) => Effect.provideService(effect, CurrentRecorders, [...recorders, into]))

/**
 * Adds the metrics of an entry served from the cache to the run, marked
 * `cached`.
 *
 * @internal
 */
export const replay = (metrics: ReadonlyArray<Metric> | undefined): Effect.Effect<void> =>
  metrics === undefined || metrics.length === 0
    ? Effect.void
    : Effect.gen(function*() {
      const collector = yield* CurrentCollector
      if (collector === undefined) return
      const recorders = yield* CurrentRecorders
      for (const metric of metrics) add(collector, recorders, metric.cached ? metric : { ...metric, cached: true })
    })
