/**
 * The data types that flow between steps and processes. Every value that is
 * cached is described by a schema: it is encoded with it to compute keys and
 * to store outputs, and decoded with it on a cache hit.
 */
import * as Schema from "effect/Schema"

/** The Iris species, in the order used for class indices. */
export const SPECIES = ["setosa", "versicolor", "virginica"] as const

/** The four measurements of a flower, in centimetres. */
export const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"] as const

/** One flower: its measurements and the index of its species in `SPECIES`. */
export const Sample = Schema.Struct({
  features: Schema.Array(Schema.Finite),
  label: Schema.Int
})
export type Sample = typeof Sample.Type

export const Dataset = Schema.Array(Sample)
export type Dataset = typeof Dataset.Type

/** Per-feature mean and standard deviation of the training set. */
export const Scaler = Schema.Struct({
  mean: Schema.Array(Schema.Finite),
  std: Schema.Array(Schema.Finite)
})
export type Scaler = typeof Scaler.Type

/** A multinomial logistic regression: one weight row and one bias per class. */
export const Model = Schema.Struct({
  weights: Schema.Array(Schema.Array(Schema.Finite)),
  bias: Schema.Array(Schema.Finite)
})
export type Model = typeof Model.Type
