/**
 * The quick start's iris classifier, trained over 3 data partitions × 5
 * seeds, and summarised as mean ± standard deviation of its accuracy.
 *
 *   load_data -> interleave ==> prepare -> train_model -> evaluate ==> summarise
 *                           \________________________________/
 *                  3 partitions × 5 seeds = 15 branches of prepare, train_model, evaluate
 *
 * The processes are the quick start's own — imported from
 * examples/quickstart/src in the repository; a project made with
 * `expops create NAME --template fanout` holds them in its own src/ — with
 * two more: `interleave`, which opens the fan-out, and `summarise`, which
 * collapses it. The fan-out itself is declared in
 * `configs/project_config.yaml` (`data_parallelism`, `seed_parallelism`);
 * it could be declared here instead:
 *
 *   fanout: [
 *     Fanout.partitions(interleave, { size: 3, dataName: "rows" }),
 *     Fanout.seeds(interleave, [1, 2, 3, 4, 5]),
 *     Fanout.aggregate(summarise, "data", "seed")
 *   ]
 */
import { Pipeline } from "@expops/core"
import { evaluate } from "../../quickstart/src/evaluate.ts"
import { loadData } from "../../quickstart/src/load.ts"
import { prepare } from "../../quickstart/src/prepare.ts"
import { trainModel } from "../../quickstart/src/train.ts"
import { interleave } from "./interleave.ts"
import { summarise } from "./summarise.ts"

export default Pipeline.make({
  name: "fanout",
  processes: [loadData, interleave, prepare, trainModel, evaluate, summarise]
})
