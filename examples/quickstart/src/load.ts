/**
 * `load_data`: reads the CSV file, parses it, checks every row and counts the
 * flowers of each species.
 */
import { readFileSync } from "node:fs"
import { Metrics, Process, Step } from "@expops/core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Dataset, FEATURES, SPECIES } from "./schemas.ts"

/** A row of the data file that cannot be used, with its line number. */
export class InvalidData extends Schema.TaggedError<InvalidData>()("InvalidData", {
  line: Schema.Int,
  reason: Schema.String
}) {
  override get message(): string {
    return `line ${this.line}: ${this.reason}`
  }
}

const Table = Schema.Struct({
  header: Schema.Array(Schema.String),
  rows: Schema.Array(Schema.Struct({ line: Schema.Int, fields: Schema.Array(Schema.String) }))
})

/** The data file cannot be read. */
export class ReadError extends Schema.TaggedError<ReadError>()("ReadError", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot read ${this.file}: ${this.reason}`
  }
}

/** Splits the text into a header and rows of fields, skipping blank lines. */
export const parseCsv = Step.make({
  name: "parse_csv",
  input: Schema.String,
  output: Table,
  run: function*(text) {
    const lines = text.split(/\r?\n/)
    const header = (lines[0] ?? "").split(",").map((f) => f.trim())
    const rows = []
    for (let i = 1; i < lines.length; i++) {
      if (lines[i]!.trim() === "") continue
      rows.push({ line: i + 1, fields: lines[i]!.split(",").map((f) => f.trim()) })
    }
    return { header, rows }
  }
})

/** Turns rows into samples; a missing column, a non-number or an unknown species fails the step. */
export const validate = Step.make({
  name: "validate",
  input: Table,
  output: Dataset,
  run: function*({ header, rows }) {
    const columns = [...FEATURES, "species"].map((name) => header.indexOf(name))
    const missing = columns.findIndex((c) => c < 0)
    if (missing >= 0) {
      return yield* new InvalidData({ line: 1, reason: `the header has no column ${[...FEATURES, "species"][missing]}` })
    }
    const samples = []
    for (const { fields, line } of rows) {
      const features = FEATURES.map((name, i) => ({ name, text: fields[columns[i]!] ?? "" }))
      for (const { name, text } of features) {
        if (text === "" || !Number.isFinite(Number(text))) {
          return yield* new InvalidData({ line, reason: `${name} is not a number: ${JSON.stringify(text)}` })
        }
      }
      const species = fields[columns[4]!] ?? ""
      const label = (SPECIES as ReadonlyArray<string>).indexOf(species)
      if (label < 0) return yield* new InvalidData({ line, reason: `unknown species ${JSON.stringify(species)}` })
      samples.push({ features: features.map((f) => Number(f.text)), label })
    }
    return samples
  }
})

/** Flowers per species, logged as metrics. */
export const countClasses = Step.make({
  name: "count_classes",
  input: Dataset,
  output: Schema.Array(Schema.Int),
  run: function*(rows) {
    const counts = SPECIES.map((_, label) => rows.filter((r) => r.label === label).length)
    yield* Metrics.logMetric("rows", rows.length)
    return counts
  }
})

export const loadData = Process.make({
  name: "load_data",
  parameters: { file: Schema.NonEmptyString },
  outputs: { rows: Dataset },
  run: function*(_inputs, { file }) {
    // Reading is not cached; parsing the text is, keyed by the text itself.
    const text = yield* Effect.try({
      try: () => readFileSync(file, "utf8"),
      catch: (error) => new ReadError({ file, reason: (error as Error).message })
    })
    const table = yield* parseCsv(text)
    const rows = yield* validate(table)
    yield* countClasses(rows)
    return { rows }
  }
})
