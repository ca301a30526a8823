/**
 * `interleave`: deals the flowers out species by species — the first of
 * each species, then the second of each, and so on — so that any run of
 * consecutive rows holds every species in equal shares.
 *
 * The data file lists the species one after the other, and data
 * parallelism splits an output into consecutive partitions: without this,
 * each partition would hold one species. Nothing here is random, so an edit
 * to one row of the file changes one row of the output, and so one partition.
 */
import { Process, Step } from "@expops/core"
import { Dataset, SPECIES } from "../../quickstart/src/schemas.ts"

/** Round-robin over the species, keeping each species' own order. */
export const dealBySpecies = Step.make({
  name: "deal_by_species",
  input: Dataset,
  output: Dataset,
  run: function*(rows) {
    const bySpecies = SPECIES.map((_, label) => rows.filter((r) => r.label === label))
    const longest = Math.max(...bySpecies.map((group) => group.length))
    const dealt = []
    for (let i = 0; i < longest; i++) {
      for (const group of bySpecies) if (i < group.length) dealt.push(group[i]!)
    }
    return dealt
  }
})

export const interleave = Process.make({
  name: "interleave",
  inputs: { rows: Dataset },
  outputs: { rows: Dataset },
  run: function*({ rows }) {
    return { rows: yield* dealBySpecies(rows) }
  }
})
