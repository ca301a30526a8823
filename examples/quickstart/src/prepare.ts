/**
 * `prepare`: shuffles the flowers with the seeded `Random`, splits them into
 * a training and a test set (stratified by species), and standardises the
 * features with the training set's mean and standard deviation.
 */
import { Process, Step } from "@expops/core"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import { Dataset, Scaler, SPECIES } from "./schemas.ts"

/** Random order from the step's derived seed: the same seed, the same order. */
export const shuffle = Step.make({
  name: "shuffle",
  input: Dataset,
  output: Dataset,
  run: (rows) => Random.shuffle(rows)
})

/** Puts `test_size` of each species in the test set, the rest in the training set. */
export const split = Step.make({
  name: "split",
  input: Dataset,
  config: Schema.Struct({ test_size: Schema.Finite }),
  output: Schema.Struct({ train: Dataset, test: Dataset }),
  run: function*(rows, { test_size }) {
    const train = []
    const test = []
    for (let label = 0; label < SPECIES.length; label++) {
      const ofSpecies = rows.filter((r) => r.label === label)
      const inTest = Math.round(ofSpecies.length * test_size)
      test.push(...ofSpecies.slice(0, inTest))
      train.push(...ofSpecies.slice(inTest))
    }
    return { train, test }
  }
})

/** Mean and standard deviation of each feature over the training set. */
export const fitScaler = Step.make({
  name: "fit_scaler",
  input: Dataset,
  output: Scaler,
  run: function*(rows) {
    const width = rows[0]?.features.length ?? 0
    const mean = Array.from({ length: width }, (_, j) => rows.reduce((s, r) => s + r.features[j]!, 0) / rows.length)
    const std = mean.map((m, j) => Math.sqrt(rows.reduce((s, r) => s + (r.features[j]! - m) ** 2, 0) / rows.length) || 1)
    return { mean, std }
  }
})

/** Standardises features: (x - mean) / std. */
export const normalise = Step.make({
  name: "normalise",
  input: Schema.Struct({ rows: Dataset, scaler: Scaler }),
  output: Dataset,
  run: function*({ rows, scaler }) {
    return rows.map((r) => ({
      label: r.label,
      features: r.features.map((x, j) => (x - scaler.mean[j]!) / scaler.std[j]!)
    }))
  }
})

export const prepare = Process.make({
  name: "prepare",
  inputs: { rows: Dataset },
  parameters: {
    test_size: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMinimum: true, exclusiveMaximum: true }))
  },
  outputs: { train: Dataset, test: Dataset, scaler: Scaler },
  run: function*({ rows }, { test_size }) {
    const shuffled = yield* shuffle(rows)
    const { test, train } = yield* split(shuffled, { test_size })
    const scaler = yield* fitScaler(train)
    return {
      train: yield* normalise({ rows: train, scaler }),
      test: yield* normalise({ rows: test, scaler }),
      scaler
    }
  }
})
