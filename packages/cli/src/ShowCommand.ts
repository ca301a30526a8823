/**
 * `expops show DIR PROCESS[/STEP] [--run ID] [--json]`: the outputs stored
 * in the cache entry a recorded run used for a process or a step (computed
 * then, or served to it), as the output schema encoded them. On a terminal
 * large arrays and long strings are summarised; `--json` gives them in full.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import { CacheStore, type Manifest, type Metrics, type RunReport, StoredValue } from "@expops/core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Backends from "./Backends.ts"
import { UsageError } from "./Errors.ts"
import type * as Ansi from "./internal/ansi.ts"
import * as Flags from "./internal/flags.ts"
import * as Output from "./internal/output.ts"
import * as Recorded from "./internal/recorded.ts"
import * as Format from "./Format.ts"
import * as Project from "./Project.ts"

/**
 * One entry shown, as `--json` prints it.
 *
 * @since 0.1.0
 */
export interface Shown {
  readonly kind: "process" | "step"
  readonly name: string
  /** For a step: the process it ran in. */
  readonly process: string | undefined
  /** Its status in the run. */
  readonly status: string
  readonly key: string
  /** When the entry was written, and how long computing it took. */
  readonly createdAt: number
  readonly durationMs: number
  /** The output as stored: encoded by the output schema (for a process, one field per output). */
  readonly output: unknown
  /** The metrics the entry was computed with. */
  readonly metrics: ReadonlyArray<Metrics.Metric>
}

/** Items of an array shown before the rest is summarised. */
const HEAD = 5
/** Longest string shown whole. */
const LONG = 120

const isBinary = (value: unknown): value is ArrayBufferView | ArrayBuffer => ArrayBuffer.isView(value) || value instanceof ArrayBuffer

/** The numbers of a typed array or buffer (bytes for a DataView or buffer). */
const numbersOf = (value: ArrayBufferView | ArrayBuffer): Array<number | string> => {
  if (value instanceof ArrayBuffer) return Array.from(new Uint8Array(value))
  if (value instanceof DataView) return Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))
  return Array.from(value as unknown as ArrayLike<number | bigint>, (n) => (typeof n === "bigint" ? String(n) : n))
}

/** A value as JSON carries it, whole: typed arrays as arrays of numbers, `Map`s as entry lists, `bigint`s as strings. */
const toJson = (value: unknown): unknown => {
  if (value === undefined) return null
  if (typeof value === "bigint") return String(value)
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value)
  if (typeof value !== "object" || value === null) return value
  if (isBinary(value)) return numbersOf(value)
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Map) return Array.from(value, ([k, v]) => [toJson(k), toJson(v)])
  if (value instanceof Set || Array.isArray(value)) return Array.from(value, toJson)
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJson(v)]))
}

/** A number as a terminal shows it: six significant digits (`--json` has them all). */
const number = (n: number): string => (Number.isInteger(n) || !Number.isFinite(n) ? String(n) : String(Number(n.toPrecision(6))))

const scalar = (value: unknown): string | undefined => {
  if (value === null || value === undefined) return String(value)
  if (typeof value === "string") {
    return value.length > LONG ? `${JSON.stringify(`${value.slice(0, LONG)}…`)} (${value.length} characters)` : JSON.stringify(value)
  }
  if (typeof value === "number") return number(value)
  if (typeof value === "boolean") return String(value)
  if (typeof value === "bigint") return `${value}n`
  if (value instanceof Date) return value.toISOString()
  if (isBinary(value)) {
    const numbers = numbersOf(value)
    const name = value instanceof ArrayBuffer ? "ArrayBuffer" : value.constructor.name
    const head = numbers.slice(0, HEAD).map((n) => (typeof n === "number" ? number(n) : n))
    return `${name}(${numbers.length}) [${head.join(", ")}${numbers.length > HEAD ? ", …" : ""}]`
  }
  return undefined
}

/**
 * The lines of a value for a terminal, each indented by `indent`: an object
 * one `key: value` per line, nested ones below their key; arrays of plain
 * values on one line; every array longer than a few items cut to its first
 * ones and its length. Plain values are one line with no indent.
 */
const preview = (value: unknown, indent: string): Array<string> => {
  const plain = scalar(value)
  if (plain !== undefined) return [plain]
  const items = value instanceof Map ? Array.from(value) : value instanceof Set ? Array.from(value) : Array.isArray(value) ? value : undefined
  if (items !== undefined) {
    if (items.length === 0) return ["[]"]
    const more = items.length > HEAD ? `… ${items.length - HEAD} more (${items.length} items)` : undefined
    const shown = items.slice(0, HEAD)
    if (shown.every((item) => scalar(item) !== undefined && !isBinary(item))) {
      return [`[${shown.map((item) => scalar(item)).join(", ")}${more !== undefined ? `, ${more}` : ""}]`]
    }
    const lines = shown.flatMap((item) => {
      const [first = "", ...rest] = preview(item, `${indent}  `)
      // An object item starts on the dash's line: `- features: [...]`.
      return [`${indent}- ${first.trimStart()}`, ...rest]
    })
    return more !== undefined ? [...lines, `${indent}${more}`] : lines
  }
  const entries = Object.entries(value as object)
  if (entries.length === 0) return ["{}"]
  return entries.flatMap(([key, v]) => {
    const inner = preview(v, `${indent}  `)
    return scalar(v) !== undefined || inner.length === 1 && !inner[0]!.startsWith(" ")
      ? [`${indent}${key}: ${inner[0]}`]
      : [`${indent}${key}:`, ...inner]
  })
}

const render = (report: RunReport.RunReport, shown: Shown, paint: Ansi.Paint): string => {
  const where = shown.kind === "step" ? ` in process ${shown.process}` : ""
  const lines = [
    `${paint.bold(`${shown.kind} ${shown.name}`)}${where} · run ${report.run.id} · ${shown.status}`,
    `key ${shown.key} · written ${Format.timestamp(shown.createdAt)} · took ${Format.duration(shown.durationMs)} to compute`,
    "output:",
    ...preview(shown.output, "  ").map((line) => (line.startsWith(" ") ? line : `  ${line}`))
  ]
  if (shown.metrics.length > 0) {
    const last = new Map<string, Metrics.Metric>()
    for (const m of shown.metrics) last.set(`${m.step ?? ""}\0${m.name}`, m)
    lines.push(`metrics: ${[...last.values()].map((m) => `${m.name} ${number(m.value)}${m.step !== undefined && shown.kind === "process" ? ` (${m.step})` : ""}`).join(", ")}`)
  }
  return lines.join("\n")
}

/** The stored output of an entry, its blobs fetched (peeked at: showing is not using). */
const storedOutput = Effect.fnUntraced(function*(store: CacheStore.Shape, manifest: Manifest.Manifest) {
  const blobs = new Map<string, Uint8Array>()
  for (const ref of manifest.blobs) {
    const blob = yield* store.getBlob(ref.digest)
    if (Option.isNone(blob)) {
      return yield* new UsageError({ message: `the entry ${Format.short(manifest.key)} is missing its blob ${ref.digest} (see \`expops cache verify\`)` })
    }
    blobs.set(ref.digest, blob.value)
  }
  return StoredValue.deserialize(manifest.output, (digest) => blobs.get(digest)!)
})

const handler = Effect.fn("expops.show")(function*(input: {
  readonly dir: string
  readonly target: string
  readonly run: Option.Option<string>
  readonly json: boolean
  readonly backend: Option.Option<Backends.Name>
}) {
  const project = yield* Project.load(input.dir)
  const [processName, stepName] = input.target.split("/", 2) as [string, string | undefined]
  const dir = Project.display(project, project.dir)
  return yield* Effect.gen(function*() {
    const store = yield* CacheStore.CacheStore
    const report = yield* Recorded.run(dir, input.run)
    // A branch by its own name (train_model_seed41), or every branch of a process by the process's name.
    const procs = yield* Recorded.processes(report, processName)
    const id = report.run.id
    const targets: Array<{ readonly kind: "process" | "step"; readonly name: string; readonly process: string | undefined; readonly status: string; readonly key: string }> = []
    for (const proc of procs) {
      if (stepName === undefined) targets.push({ kind: "process", name: proc.name, process: undefined, status: proc.status, key: proc.key })
      else {
        if (proc.status === "cached") {
          return yield* new UsageError({
            message: `step ${stepName} did not run in run ${id}: process ${proc.name} was served whole from the cache; \`expops show ${dir} ${proc.name}\` shows its outputs`
          })
        }
        const calls = yield* Recorded.stepCalls(report, proc, stepName)
        for (const call of calls) targets.push({ kind: "step", name: call.name, process: proc.name, status: call.status, key: call.key })
      }
    }
    const shown: Array<Shown> = []
    for (const target of targets) {
      const what = `${target.kind} ${target.name}`
      if (target.status !== "cached" && target.status !== "executed") {
        return yield* new UsageError({ message: `${what} ${target.status === "skipped" ? "did not run" : target.status} in run ${id}: nothing was stored for it` })
      }
      const manifest = yield* store.peekManifest(target.key).pipe(
        Effect.map(Option.getOrUndefined),
        Effect.catchTag("CorruptManifestError", () => Effect.succeed(undefined))
      )
      if (manifest === undefined) {
        return yield* new UsageError({
          message: `the entry of ${what} in run ${id} (${Format.short(target.key)}) is no longer in the cache (pruned, cleared or moved aside as corrupt)`
        })
      }
      const output = yield* storedOutput(store, manifest)
      shown.push({ ...target, createdAt: manifest.createdAt, durationMs: manifest.durationMs, output, metrics: manifest.metrics ?? [] })
    }
    if (input.json) {
      const entries = shown.map((entry) => ({ ...entry, output: toJson(entry.output) }))
      return yield* Console.log(JSON.stringify({ run: id, target: input.target, entries }, null, 2))
    }
    const paint = yield* Output.paint("stdout")
    yield* Console.log(shown.map((entry) => render(report, entry, paint)).join("\n\n"))
  }).pipe(Effect.provide(Backends.layer(project, Option.getOrElse(input.backend, () => project.config.backend))))
})

/**
 * @since 0.1.0
 */
export const command = Command.make("show", {
  dir: Flags.dir,
  target: Argument.String("target").pipe(Argument.withDescription("PROCESS or PROCESS/STEP: whose outputs to show")),
  run: Flags.run("The entry of this run instead of the last one"),
  json: Flags.json,
  backend: Flags.backend
}, handler).pipe(
  Command.withDescription(
    "Show the stored outputs of a process or step in the last run (computed then, or served from the cache), " +
      "as its output schema encodes them: large arrays summarised, in full with --json."
  ),
  Command.withExamples([
    { command: "expops show examples/quickstart evaluate", description: "The accuracy and confusion matrix of the last run" },
    { command: "expops show examples/quickstart train_model/fit --json", description: "The fitted model, in full" },
    { command: "expops show . prepare --run 20261126T233204Z-3fa9c1", description: "The outputs prepare had in an earlier run" }
  ])
)

/**
 * Core errors this module's commands can end with (named for declaration files).
 *
 * @since 0.1.0
 */
export type CoreError = Core.ProjectConfig.ConfigError | Core.CacheStore.CacheStoreError | Core.RunStore.RunStoreError
