/**
 * `evaluate`: predicts the species of the test flowers, builds the confusion
 * matrix and logs accuracy and per-species recall as metrics.
 */
import { Metrics, Process, Step } from "@expops/core"
import * as Schema from "effect/Schema"
import { Dataset, Model, SPECIES } from "./schemas.ts"
import { softmax } from "./train.ts"

const Matrix = Schema.Array(Schema.Array(Schema.Int))

/** The most probable class of each flower. */
export const predict = Step.make({
  name: "predict",
  input: Schema.Struct({ model: Model, rows: Dataset }),
  output: Schema.Array(Schema.Int),
  run: function*({ model, rows }) {
    return rows.map(({ features }) => {
      const p = softmax(model, features)
      return p.indexOf(Math.max(...p))
    })
  }
})

/** `matrix[actual][predicted]`: how many flowers of each species were taken for which. */
export const confusionMatrix = Step.make({
  name: "confusion_matrix",
  input: Schema.Struct({ actual: Schema.Array(Schema.Int), predicted: Schema.Array(Schema.Int) }),
  output: Matrix,
  run: function*({ actual, predicted }) {
    const matrix = SPECIES.map(() => SPECIES.map(() => 0))
    actual.forEach((a, i) => matrix[a]![predicted[i]!]!++)
    return matrix
  }
})

/** Accuracy and per-species recall, logged as metrics. */
export const scores = Step.make({
  name: "scores",
  input: Matrix,
  output: Schema.Struct({ accuracy: Schema.Finite, recall: Schema.Array(Schema.Finite) }),
  run: function*(matrix) {
    const total = matrix.flat().reduce((a, b) => a + b, 0)
    const correct = matrix.reduce((s, row, k) => s + row[k]!, 0)
    const accuracy = total === 0 ? 0 : correct / total
    const recall = matrix.map((row, k) => {
      const n = row.reduce((a, b) => a + b, 0)
      return n === 0 ? 0 : row[k]! / n
    })
    yield* Metrics.logMetric("accuracy", accuracy)
    for (const [k, name] of SPECIES.entries()) yield* Metrics.logMetric(`recall_${name}`, recall[k]!)
    return { accuracy, recall }
  }
})

export const evaluate = Process.make({
  name: "evaluate",
  inputs: { model: Model, test: Dataset },
  outputs: { accuracy: Schema.Finite, confusion: Matrix },
  run: function*({ model, test }) {
    const predicted = yield* predict({ model, rows: test })
    const confusion = yield* confusionMatrix({ actual: test.map((r) => r.label), predicted })
    const { accuracy } = yield* scores(confusion)
    return { accuracy, confusion }
  }
})
