/**
 * `train_model`: multinomial logistic regression (softmax regression) fitted
 * by mini-batch gradient descent. The initial weights and the order of the
 * samples in every epoch come from the seeded `Random`, so a run is
 * reproducible bit for bit.
 */
import { Metrics, Process, Step } from "@expops/core"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import { Dataset, Model, SPECIES } from "./schemas.ts"

const Training = Schema.Struct({
  learning_rate: Schema.Finite.check(Schema.isGreaterThan(0)),
  epochs: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  batch_size: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  l2: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
})

/** Class probabilities of one sample. */
export const softmax = (model: Model, x: ReadonlyArray<number>): Array<number> => {
  const scores = model.weights.map((w, k) => w.reduce((s, wj, j) => s + wj * x[j]!, model.bias[k]!))
  const max = Math.max(...scores)
  const exps = scores.map((s) => Math.exp(s - max))
  const total = exps.reduce((a, b) => a + b, 0)
  return exps.map((e) => e / total)
}

/** Small random weights, zero biases. */
export const initWeights = Step.make({
  name: "init_weights",
  input: Schema.Struct({ features: Schema.Int, classes: Schema.Int }),
  output: Model,
  run: function*({ classes, features }) {
    const weights: Array<Array<number>> = []
    for (let k = 0; k < classes; k++) {
      const row: Array<number> = []
      for (let j = 0; j < features; j++) row.push(((yield* Random.next) - 0.5) * 0.02)
      weights.push(row)
    }
    return { weights, bias: Array.from({ length: classes }, () => 0) }
  }
})

/** Mini-batch gradient descent on the cross-entropy loss with L2 regularisation. */
export const fit = Step.make({
  name: "fit",
  input: Schema.Struct({ train: Dataset, initial: Model }),
  config: Training,
  output: Model,
  run: function*({ initial, train }, { batch_size, epochs, l2, learning_rate }) {
    const weights = initial.weights.map((w) => [...w])
    const bias = [...initial.bias]
    const model = { weights, bias }
    const every = Math.max(1, Math.floor(epochs / 50))
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = yield* Random.shuffle(train)
      let loss = 0
      for (let start = 0; start < order.length; start += batch_size) {
        const batch = order.slice(start, start + batch_size)
        const gradW = weights.map((w) => w.map(() => 0))
        const gradB = bias.map(() => 0)
        for (const { features, label } of batch) {
          const p = softmax(model, features)
          loss -= Math.log(Math.max(p[label]!, 1e-12))
          for (let k = 0; k < p.length; k++) {
            const error = p[k]! - (k === label ? 1 : 0)
            gradB[k]! += error
            for (let j = 0; j < features.length; j++) gradW[k]![j]! += error * features[j]!
          }
        }
        const rate = learning_rate / batch.length
        for (let k = 0; k < weights.length; k++) {
          bias[k]! -= rate * gradB[k]!
          for (let j = 0; j < weights[k]!.length; j++) {
            weights[k]![j]! -= rate * (gradW[k]![j]! + l2 * batch.length * weights[k]![j]!)
          }
        }
      }
      if (epoch % every === 0 || epoch === epochs) {
        yield* Metrics.logMetric("loss", loss / order.length, epoch)
        // Let the progress display breathe during a long fit.
        yield* Effect.yieldNow
      }
    }
    return model
  }
})

/** Share of the training set the model classifies correctly. */
export const trainingAccuracy = Step.make({
  name: "training_accuracy",
  input: Schema.Struct({ model: Model, train: Dataset }),
  output: Schema.Finite,
  run: function*({ model, train }) {
    const correct = train.filter(({ features, label }) => {
      const p = softmax(model, features)
      return p.indexOf(Math.max(...p)) === label
    }).length
    const accuracy = correct / train.length
    yield* Metrics.logMetric("train_accuracy", accuracy)
    return accuracy
  }
})

export const trainModel = Process.make({
  name: "train_model",
  inputs: { train: Dataset },
  parameters: Training.fields,
  outputs: { model: Model },
  // Optional: the key finds the steps a body calls by reading its code. Listing them documents it.
  steps: [initWeights, fit, trainingAccuracy],
  run: function*({ train }, training) {
    const initial = yield* initWeights({ features: train[0]?.features.length ?? 0, classes: SPECIES.length })
    const model = yield* fit({ train, initial }, training)
    yield* trainingAccuracy({ model, train })
    return { model }
  }
})
