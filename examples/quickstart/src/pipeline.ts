/**
 * The quick-start pipeline: Iris species from flower measurements.
 *
 *   load_data -> prepare -> train_model -> evaluate
 *                       \_______________________/  (evaluate also takes prepare's test set)
 *
 * The edges are in `configs/project_config.yaml` (`process_adjlist`); each
 * process takes its inputs, by name, from the outputs of its upstream
 * processes, and its parameters from the config. The default export is what
 * `expops run` runs.
 */
import { Pipeline } from "@expops/core"
import { evaluate } from "./evaluate.ts"
import { loadData } from "./load.ts"
import { prepare } from "./prepare.ts"
import { trainModel } from "./train.ts"

export default Pipeline.make({
  name: "quickstart",
  processes: [loadData, prepare, trainModel, evaluate]
})
