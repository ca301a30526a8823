/**
 * `summarise`: the aggregation. It runs once, after every branch, and
 * receives each branch's test accuracy as a record keyed by partition, then
 * seed — `{ data1: { seed1: 0.9, seed2: 1, ... }, data2: { ... }, ... }` —
 * which it reduces to the mean and standard deviation, logged as metrics.
 */
import { Fanout, Metrics, Process, Step } from "@expops/core"
import * as Schema from "effect/Schema"

/** What the aggregation receives from `evaluate`'s branches. */
export const Accuracies = Fanout.byData(Fanout.bySeed(Schema.Finite))

const Summary = Schema.Struct({
  /** Over every branch. */
  mean: Schema.Finite,
  std: Schema.Finite,
  branches: Schema.Int,
  /** How much the seed moves the accuracy: the standard deviation across seeds, averaged over the partitions. */
  seed_std: Schema.Finite,
  /** How much the data moves it: the standard deviation across partitions of each partition's mean. */
  data_std: Schema.Finite,
  /** Each partition's mean over its seeds. */
  by_partition: Fanout.byData(Schema.Finite)
})

const mean = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0) / xs.length

/** The sample standard deviation (n - 1 in the denominator); 0 for a single value. */
const std = (xs: ReadonlyArray<number>): number => {
  if (xs.length < 2) return 0
  const m = mean(xs)
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1))
}

/** Mean ± standard deviation of the accuracy, overall, across seeds and across partitions. */
export const accuracyStats = Step.make({
  name: "accuracy_stats",
  input: Accuracies,
  output: Summary,
  run: function*(byPartition) {
    // Branch order (data1, data2, ...; seed1, seed2, ...), so the sums come out the same on every run.
    const grid = Fanout.values(byPartition).map((bySeed) => Fanout.values(bySeed))
    const all = grid.flat()
    const summary = {
      mean: mean(all),
      std: std(all),
      branches: all.length,
      seed_std: mean(grid.map(std)),
      data_std: std(grid.map(mean)),
      by_partition: Object.fromEntries(Object.entries(byPartition).map(([partition, bySeed]) => [partition, mean(Fanout.values(bySeed))]))
    }
    yield* Metrics.logMetric("accuracy_mean", summary.mean)
    yield* Metrics.logMetric("accuracy_std", summary.std)
    yield* Metrics.logMetric("accuracy_seed_std", summary.seed_std)
    yield* Metrics.logMetric("accuracy_data_std", summary.data_std)
    return summary
  }
})

export const summarise = Process.make({
  name: "summarise",
  inputs: { accuracy: Accuracies },
  outputs: { summary: Summary },
  run: function*({ accuracy }) {
    return { summary: yield* accuracyStats(accuracy) }
  }
})
