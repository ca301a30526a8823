/**
 * `expops explain DIR PROCESS[/STEP]`: why a process or step of the last run
 * hit or missed. Shows the key's recipe part by part and, for a miss, which
 * parts differ from the nearest earlier entry of the same name.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import { CacheAdmin, CacheStore, CodeParts, Explain, Manifest, type Recipe, RunReport, RunStore, Trace } from "@expops/core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Backends from "./Backends.ts"
import { UsageError } from "./Errors.ts"
import * as Ansi from "./internal/ansi.ts"
import * as Flags from "./internal/flags.ts"
import * as Output from "./internal/output.ts"
import * as Recorded from "./internal/recorded.ts"
import * as Format from "./Format.ts"
import * as Project from "./Project.ts"

/**
 * The explanation of one process or step call, as `--json` prints it.
 *
 * @since 0.1.0
 */
export interface Explanation {
  readonly kind: "process" | "step"
  readonly name: string
  /** For a step: the process it ran in. */
  readonly process: string | undefined
  readonly status: string
  readonly key: string
  /** The recipe of the entry for `key`, when it is (still) in the cache. */
  readonly recipe: Recipe.Recipe | undefined
  /** What that entry's computation used: files read, random numbers drawn (see `Trace`). */
  readonly trace?: Trace.Trace | undefined
  readonly entry: { readonly createdAt: number; readonly durationMs: number } | undefined
  /** For a miss: the nearest earlier entry of the same name it was compared with. */
  readonly previous: { readonly key: string; readonly createdAt: number } | undefined
  readonly changes: ReadonlyArray<Explain.Change>
  /** A sentence saying what happened. */
  readonly summary: string
  /** For a failure: the error, where in the user's code it was raised, and its stack (the user's frames). */
  readonly error?: string | undefined
  readonly location?: string | undefined
  readonly stack?: string | undefined
}

/**
 * The manifest of `key` with its recipe's code parts read back (see
 * `CodeParts`), or `undefined` when it is gone or corrupt (a run would
 * recompute it either way). A peek: explaining is not using, so the entries
 * compared do not become recently used and escape pruning. Code parts that
 * cannot be read back leave the recipe saying why, for the explanation.
 */
const readManifest = (store: CacheStore.Shape, key: string) =>
  store.peekManifest(key).pipe(
    Effect.flatMap((found) =>
      Option.isNone(found)
        ? Effect.succeed(undefined)
        : Effect.map(CodeParts.recipeOf(store, found.value, codePartsReader(store)), (recipe): Manifest.Manifest => ({ ...Manifest.toPlain(found.value), recipe }))
    ),
    Effect.catchTag("CorruptManifestError", () => Effect.succeed(undefined))
  )

/**
 * Reads code-parts blobs, each once per store: the entries of a definition
 * share one, and `explain` compares up to 200 entries. Only blobs found are
 * kept (a blob's content never changes; a missing one may be stored again).
 */
const codePartsReader = (store: CacheStore.Shape) => {
  let read = readers.get(store)
  if (read === undefined) {
    const found = new Map<string, Option.Option<Uint8Array>>()
    read = (digest) => {
      const kept = found.get(digest)
      if (kept !== undefined) return Effect.succeed(kept)
      return Effect.tap(store.getBlob(digest), (blob) => Effect.sync(() => Option.isSome(blob) && found.set(digest, blob)))
    }
    readers.set(store, read)
  }
  return read
}

const readers = new WeakMap<CacheStore.Shape, (digest: string) => Effect.Effect<Option.Option<Uint8Array>, CacheStore.CacheStoreError>>()

/**
 * The earlier entry of the same name that explains a miss best: the one whose
 * recipe differs in the fewest parts (the newest among equals), preferring
 * entries from the same process and pipeline.
 */
const nearestEarlier = Effect.fnUntraced(function*(manifest: Manifest.Manifest) {
  const store = yield* CacheStore.CacheStore
  const admin = yield* CacheAdmin.CacheAdmin
  const { recipe } = manifest
  const candidates = (yield* admin.list({ name: recipe.name, kind: recipe.kind }))
    .filter((e) => e.key !== manifest.key && e.createdAt <= manifest.createdAt)
  let best: { manifest: Manifest.Manifest; rank: number } | undefined
  for (const candidate of candidates.slice(0, 200)) {
    const earlier = yield* readManifest(store, candidate.key)
    if (earlier === undefined) continue
    const elsewhere = earlier.recipe.process !== recipe.process || earlier.recipe.pipeline !== recipe.pipeline
    const rank = Explain.diff(earlier.recipe, recipe, { before: earlier.trace, after: manifest.trace }).length + (elsewhere ? 1000 : 0)
    // Candidates come newest first: a later one must be strictly closer to win.
    if (best === undefined || rank < best.rank) best = { manifest: earlier, rank }
  }
  return best?.manifest
})

/**
 * The keys that the runs recorded before `current` (the last `EARLIER_RUNS`)
 * served or stored, each with the latest such run. Runs are recorded only
 * when they use the cache, so each of these entries existed then: a miss of
 * one of these keys means that its entry was removed since, whatever the
 * recipe's differences from other entries.
 */
const storedBefore = Effect.fnUntraced(function*(current: RunReport.RunReport["run"]) {
  const runs = yield* RunStore.RunStore
  const earlier = (yield* runs.listRuns())
    .filter((r) => r.id !== current.id && r.startedAt < current.startedAt)
    .slice(0, EARLIER_RUNS)
  const reports = yield* Effect.forEach(earlier, (r) => runs.getRun(r.id), { concurrency: 8 })
  const stored = new Map<string, RunStore.RunSummary>()
  earlier.forEach((summary, i) => {
    for (const call of Option.match(reports[i]!, { onNone: () => [], onSome: (r) => r.processes.flatMap((p) => [p, ...p.steps]) })) {
      // Newest run first: the first one seen is the latest.
      if ((call.status === "cached" || call.status === "executed") && !stored.has(call.key)) stored.set(call.key, summary)
    }
  })
  return stored
})

/** How many earlier runs `explain` looks through (one read of a report each, once per command). */
const EARLIER_RUNS = 100

/** What a hit's entry says about seeds: served across seeds when it drew no random number. */
const seedNote = (manifest: Manifest.Manifest): string =>
  manifest.trace === undefined
    ? ""
    : manifest.trace.random
    ? `; it drew random numbers, so it holds for seed ${manifest.trace.seed} only`
    : "; seed not used: served across seeds"

const explainOne = Effect.fnUntraced(function*(
  projectDir: string,
  earlier: Effect.Effect<ReadonlyMap<string, RunStore.RunSummary>, RunStore.RunStoreError, RunStore.RunStore>,
  target: {
    readonly kind: "process" | "step"
    readonly name: string
    readonly process: string | undefined
    readonly status: string
    readonly key: string
    readonly error?: string | undefined
    readonly location?: string | undefined
    readonly stack?: string | undefined
  }
) {
  const store = yield* CacheStore.CacheStore
  const base = { ...target, recipe: undefined, entry: undefined, previous: undefined, changes: [] }
  const what = `${target.kind} ${target.name}`
  if (target.status === "skipped") {
    return { ...base, summary: `${what} did not run: ${target.error ?? "an upstream process did not succeed"}` } satisfies Explanation
  }
  const manifest = yield* readManifest(store, target.key)
  const failed = `${what} failed${target.location !== undefined ? ` at ${target.location}` : ""} (${target.error ?? "unknown error"}); nothing was stored for its key`
  if (manifest === undefined) {
    const summary = target.status === "failed" ? failed : `the entry for its key is no longer in the cache (pruned, cleared or moved aside as corrupt)`
    return { ...base, summary } satisfies Explanation
  }
  if (target.status === "failed") {
    // An earlier entry for the key did not hold: the files it read that changed are why the body ran (and maybe why it failed).
    const now = manifest.trace === undefined ? undefined : yield* Trace.check(manifest.trace, undefined, projectDir)
    const changes = now === undefined ? [] : Explain.fileChanges(manifest.recipe, manifest.trace!.files, now.changedFiles)
    return { ...base, changes, summary: failed } satisfies Explanation
  }
  const withEntry = { ...base, recipe: manifest.recipe, trace: manifest.trace, entry: { createdAt: manifest.createdAt, durationMs: manifest.durationMs } }
  if (target.status === "cached") {
    return {
      ...withEntry,
      summary: `a hit: served from the entry written ${Format.timestamp(manifest.createdAt)}, which took ${
        Format.duration(manifest.durationMs)
      } to compute${seedNote(manifest)}`
    } satisfies Explanation
  }
  // Its own entry existed before: it missed because that entry was removed, not because anything changed.
  const stored = (yield* earlier).get(target.key)
  if (stored !== undefined) {
    return {
      ...withEntry,
      summary: `a miss: this entry had been stored by run ${stored.id} (${Format.timestamp(stored.startedAt)}) and was removed from the cache since ` +
        `(pruned, cleared or moved aside as corrupt), so it was computed again; its recipe did not change`
    } satisfies Explanation
  }
  return yield* againstEarlier(withEntry, manifest, "a miss")
})

/** `explanation` with what changed since the nearest earlier entry of the same name; `what` opens the summary. */
const againstEarlier = Effect.fnUntraced(function*(explanation: Omit<Explanation, "summary">, manifest: Manifest.Manifest, what: string) {
  const previous = yield* nearestEarlier(manifest)
  if (previous === undefined) {
    return { ...explanation, summary: `${what}: no earlier entry named ${explanation.name} exists (its first run, or earlier entries were removed)` } satisfies Explanation
  }
  const changes = Explain.diff(previous.recipe, manifest.recipe, { before: previous.trace, after: manifest.trace })
  return {
    ...explanation,
    previous: { key: previous.key, createdAt: previous.createdAt },
    changes,
    summary: changes.length === 0
      ? `${what}, although its recipe matches the earlier entry ${Format.short(previous.key)}: that entry's key was different or it was removed`
      : `${what}: compared with the nearest earlier entry (${Format.short(previous.key)}, written ${Format.timestamp(previous.createdAt)}), ${changes.length === 1 ? "one part" : `${changes.length} parts`} changed`
  } satisfies Explanation
})

/**
 * One cache entry explained (for the web UI's cache page): its recipe and
 * what changed since the nearest earlier entry of the same name. `None` when
 * no entry has that key. Reads manifests with `peekManifest` only: looking
 * is not using, so it does not protect the entries from pruning.
 *
 * @since 0.1.0
 */
export const explainEntry = Effect.fnUntraced(function*(key: string) {
  const store = yield* CacheStore.CacheStore
  const manifest = yield* readManifest(store, key)
  if (manifest === undefined) return Option.none<Explanation>()
  const { recipe } = manifest
  const base: Omit<Explanation, "summary"> = {
    kind: recipe.kind,
    name: recipe.name,
    process: recipe.kind === "step" ? recipe.process : undefined,
    status: "stored",
    key,
    recipe,
    trace: manifest.trace,
    entry: { createdAt: manifest.createdAt, durationMs: manifest.durationMs },
    previous: undefined,
    changes: []
  }
  return Option.some(yield* againstEarlier(base, manifest, `stored ${Format.timestamp(manifest.createdAt)}, ${Format.duration(manifest.durationMs)} to compute`))
})

const recipeRows = (recipe: Recipe.Recipe, trace: Trace.Trace | undefined): Array<Array<string>> => {
  const rows: Array<Array<string>> = []
  const label = recipe.kind === "process" ? "parameters" : "config"
  const parts = recipe.codeParts ?? []
  rows.push(["code", `${Format.short(recipe.code)}  (fingerprint of the ${recipe.kind}'s code closure${parts.length > 0 ? `, ${parts.length} parts` : ""})`])
  if (recipe.codePartsUnavailable !== undefined) rows.push(["  parts", `cannot be shown: ${recipe.codePartsUnavailable}`])
  for (const part of parts) {
    const where = part.file === undefined ? "" : `  ${part.file}${part.line === undefined ? "" : `:${part.line}`}`
    rows.push([`  ${part.kind} ${part.name}`, `${part.kind === "package" ? part.digest : Format.short(part.digest)}${where}`])
  }
  rows.push(["version", recipe.version ?? "(none)"])
  rows.push([recipe.kind === "process" ? "inputs" : "input", Format.short(recipe.input)])
  for (const [name, digest] of Object.entries(recipe.inputParts)) {
    const source = recipe.inputSources?.[name]
    rows.push([`  ${name}`, `${Format.short(digest)}${source ? `  from upstream ${source}` : ""}`])
  }
  const value = JSON.stringify(recipe.configValue ?? null)
  rows.push([label, value.length > 100 ? `${value.slice(0, 97)}...` : value])
  rows.push(["schemas", `input ${Format.short(recipe.schemas.input)}  output ${Format.short(recipe.schemas.output)}  ${label} ${Format.short(recipe.schemas.config)}`])
  rows.push([
    "seed",
    `${recipe.seed}  (derived from the root seed${
      trace === undefined ? "" : trace.random ? "; drew random numbers: holds for this seed only" : "; not used: served across seeds"
    })`
  ])
  if (trace !== undefined) {
    rows.push(["files read", trace.files.length === 0 ? "(none)" : `${trace.files.length}  (traced: the entry holds while each has this content)`])
    for (const file of trace.files) rows.push([`  ${file.path}`, file.digest === Trace.ABSENT ? "(missing)" : Format.short(file.digest)])
  }
  if (recipe.kind === "process") rows.push(["data file", recipe.data ? `${recipe.dataPath ?? ""}  ${Format.short(recipe.data)}` : "(none)"])
  rows.push(["format", String(recipe.format)])
  return rows
}

const render = (runId: string | undefined, e: Explanation, paint: Ansi.Paint): string => {
  const lines: Array<string> = []
  const where = e.kind === "step" && e.process !== undefined ? ` in process ${e.process}` : ""
  lines.push(`${paint.bold(`${e.kind} ${e.name}`)}${where}${runId !== undefined ? ` · run ${runId}` : ""} · ${e.status}`)
  if (e.key) lines.push(`key ${e.key}`)
  lines.push(e.summary)
  for (const frame of e.stack?.split("\n").filter((line) => /^\s+at /.test(line)) ?? []) lines.push(paint.dim(`  ${frame.trim()}`))
  for (const change of e.changes) lines.push(paint.yellow(`  - ${change.message}`))
  if (e.recipe !== undefined) {
    lines.push("recipe:")
    lines.push(Format.table(recipeRows(e.recipe, e.trace), "  "))
  }
  return lines.join("\n")
}

/** What a report entry says about its failure, if it failed. */
const failureOf = (entry: RunReport.StepReport | RunReport.ProcessReport) => ({
  error: entry.error,
  location: entry.location,
  stack: entry.stack
})

/**
 * The explanations of `target` (`PROCESS` or `PROCESS/STEP`) in a recorded
 * run: what `expops explain` prints, and what the web UI shows beside a node.
 *
 * @since 0.1.0
 */
export const explain = Effect.fnUntraced(function*(report: RunReport.RunReport, target: string, projectDir: string) {
  const [processName, stepName] = target.split("/", 2) as [string, string | undefined]
  const id = report.run.id
  // A branch by its own name (train_model_seed41), or every branch of a process by the process's name.
  const procs = yield* Recorded.processes(report, processName)
  // Read once, and only when a miss needs it.
  const earlier = yield* Effect.cached(storedBefore(report.run))
  const explanations: Array<Explanation> = []
  for (const proc of procs) {
    const processTarget = { ...failureOf(proc), kind: "process", name: proc.name, process: undefined, status: proc.status, key: proc.key } as const
    if (stepName === undefined) {
      explanations.push(yield* explainOne(projectDir, earlier, processTarget))
    } else if (proc.status === "cached" || proc.status === "skipped") {
      const processExplanation = yield* explainOne(projectDir, earlier, processTarget)
      // The process's recipe lists the steps its code reaches: a name not among them is a typo, not a step that did not run.
      const reached = (processExplanation.recipe?.codeParts ?? []).filter((part) => part.kind === "step").map((part) => part.name)
      if (processExplanation.recipe?.codeParts !== undefined && !reached.includes(stepName)) {
        return yield* new UsageError({
          message: `process ${proc.name} calls no step ${stepName} (steps its code reaches: ${reached.length > 0 ? reached.join(", ") : "none"})`
        })
      }
      explanations.push({
        ...processExplanation,
        summary: `step ${stepName} did not run in run ${id}: process ${proc.name} was ${
          proc.status === "cached" ? "served whole from the cache, so none of its steps ran" : "skipped"
        }.\nprocess ${proc.name}: ${processExplanation.summary}`
      })
    } else {
      const calls = yield* Recorded.stepCalls(report, proc, stepName)
      for (const call of calls) {
        explanations.push(yield* explainOne(projectDir, earlier, { ...failureOf(call), kind: "step", name: call.name, process: proc.name, status: call.status, key: call.key }))
      }
    }
  }
  return explanations
})

/**
 * An explanation as `expops explain` prints it, without colours: the same words in the web UI.
 *
 * @since 0.1.0
 */
export const renderPlain = (runId: string | undefined, explanation: Explanation): string => render(runId, explanation, Ansi.paint(false))

const handler = Effect.fn("expops.explain")(function*(input: {
  readonly dir: string
  readonly target: string
  readonly run: Option.Option<string>
  readonly json: boolean
  readonly backend: Option.Option<Backends.Name>
}) {
  const project = yield* Project.load(input.dir)
  const dir = Project.display(project, project.dir)
  return yield* Effect.gen(function*() {
    const report = yield* Recorded.run(dir, input.run)
    const explanations = yield* explain(report, input.target, project.dir)
    if (input.json) {
      yield* Console.log(JSON.stringify({ run: report.run.id, target: input.target, explanations }, null, 2))
    } else {
      const paint = yield* Output.paint("stdout")
      yield* Console.log(explanations.map((e) => render(report.run.id, e, paint)).join("\n\n"))
    }
  }).pipe(Effect.provide(Backends.layer(project, Option.getOrElse(input.backend, () => project.config.backend))))
})

/**
 * @since 0.1.0
 */
export const command = Command.make("explain", {
  dir: Flags.dir,
  target: Argument.String("target").pipe(
    Argument.withDescription(
      "PROCESS or PROCESS/STEP: what to explain. A fan-out branch by its own name (train_model_seed41); a process that ran as branches by its name explains each branch"
    )
  ),
  run: Flags.run("Explain this run instead of the last one"),
  json: Flags.json,
  backend: Flags.backend
}, handler).pipe(
  Command.withDescription(
    "Explain why a process or step of the last run was served from the cache or ran: its key's recipe part by part " +
      "and, for a miss, what changed since the nearest earlier entry of the same name."
  ),
  Command.withExamples([
    { command: "expops explain examples/quickstart train_model", description: "Why did train_model run (or hit)?" },
    { command: "expops explain examples/quickstart train_model/fit", description: "Why did the step fit of train_model run?" },
    { command: "expops explain . evaluate --json", description: "The same, as JSON" },
    { command: "expops explain . train_model_seed41", description: "One branch of a fan-out" }
  ])
)

/**
 * Core errors this module's commands can end with (named for declaration files).
 *
 * @since 0.1.0
 */
export type CoreError = Core.ProjectConfig.ConfigError | Core.CacheStore.CacheStoreError | Core.RunStore.RunStoreError
