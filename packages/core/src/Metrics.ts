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
 * A metric is logged when the code that logs it runs: a step served from the
 * cache does not run, so it logs nothing in that run.
 *
 * @since 0.1.0
 */
import { Context, Effect, Schema } from "effect"
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
  step: Schema.optionalKey(Schema.String)
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
 * The collector of the current run. The default collects into a fresh
 * collector per fiber tree, which nobody reads.
 *
 * @since 0.1.0
 */
export const CurrentCollector = Context.Reference<Collector>("expops/Metrics/CurrentCollector", {
  defaultValue: () => makeCollector()
})

/**
 * @since 0.1.0
 */
export const makeCollector = (): Collector => ({ metrics: [], next: new Map() })

/**
 * The step a metric is logged in, set by `Step` around its body.
 *
 * @internal
 */
export const CurrentStep = Context.Reference<string | undefined>("expops/Metrics/CurrentStep", {
  defaultValue: () => undefined
})

/**
 * Logs a metric.
 *
 * @since 0.1.0
 */
export const logMetric = (name: string, value: number, index?: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const collector = yield* CurrentCollector
    const scope = yield* CurrentProcess
    const step = yield* CurrentStep
    const process = scope?.process ?? ""
    const slot = `${process}\0${step ?? ""}\0${name}`
    const at = index ?? collector.next.get(slot) ?? 1
    collector.next.set(slot, Math.max(collector.next.get(slot) ?? 1, Math.floor(at) + 1))
    collector.metrics.push({ name, value, index: at, process, ...(step !== undefined ? { step } : {}) })
  })
