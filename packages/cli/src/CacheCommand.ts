/**
 * `expops cache stats|ls|verify|prune|clear DIR`: maintenance of a project's
 * cache, on whichever backend its config names.
 *
 * @since 0.1.0
 */
import type * as Core from "@expops/core"
import { CacheAdmin } from "@expops/core"
import * as ByteSize from "effect/ByteSize"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stdio from "effect/Stdio"
import * as Terminal from "effect/Terminal"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Backends from "./Backends.ts"
import { Failed, UsageError } from "./Errors.ts"
import * as Output from "./internal/output.ts"
import * as Flags from "./internal/flags.ts"
import * as Format from "./Format.ts"
import * as Units from "./Units.ts"

/** Runs `f` with the project's cache admin, on the backend its config (or `--backend`) names. */
const withAdmin = Backends.withService(CacheAdmin.CacheAdmin)

const paint = () => Output.paint("stdout")

const common = { dir: Flags.dir, json: Flags.json, backend: Flags.backend }

const stats = Command.make("stats", common, Effect.fn("expops.cache.stats")(function*({ backend, dir, json }) {
  const s = yield* withAdmin(dir, backend, (admin) => admin.stats)
  if (json) return yield* Console.log(JSON.stringify(s, null, 2))
  const lines = [
    `${s.entries} entries, ${Format.bytes(s.bytes)} (manifests and the blobs they reference)`,
    `${s.blobs} blobs, ${Format.bytes(s.blobBytes)}`
  ]
  if (s.byName.length > 0) {
    lines.push("")
    lines.push(Format.table([["KIND", "NAME", "ENTRIES", "SIZE"], ...s.byName.map((r) => [r.kind, r.name, String(r.entries), Format.bytes(r.bytes)])], "  "))
  }
  yield* Console.log(lines.join("\n"))
})).pipe(
  Command.withDescription("Show how many entries the cache holds and their size, by step and process name"),
  Command.withExamples([{ command: "expops cache stats examples/quickstart", description: "Size of the quick-start cache" }])
)

const ls = Command.make("ls", {
  ...common,
  name: Flag.String("name").pipe(Flag.optional, Flag.withDescription("Only entries of this step or process"))
}, Effect.fn("expops.cache.ls")(function*({ backend, dir, json, name }) {
  const entries = yield* withAdmin(dir, backend, (admin) => admin.list({ name: Option.getOrUndefined(name) }))
  if (json) return yield* Console.log(JSON.stringify(entries, null, 2))
  if (entries.length === 0) return yield* Console.log("the cache is empty")
  yield* Console.log(Format.table([
    ["KEY", "KIND", "NAME", "SIZE", "CREATED", "LAST USED"],
    ...entries.map((e) => [Format.short(e.key), e.kind, e.name, Format.bytes(e.size), Format.timestamp(e.createdAt), Format.timestamp(e.lastAccessAt)])
  ]))
})).pipe(
  Command.withDescription("List the cache entries, newest first"),
  Command.withExamples([
    { command: "expops cache ls examples/quickstart", description: "Every entry" },
    { command: "expops cache ls examples/quickstart --name train_model", description: "The entries of train_model" }
  ])
)

const verify = Command.make("verify", {
  ...common,
  repair: Flag.Boolean("repair").pipe(
    Flag.withoutNegation,
    Flag.withDefault(false),
    Flag.withDescription("Move corrupt entries aside so that they are recomputed on the next run")
  )
}, Effect.fn("expops.cache.verify")(function*({ backend, dir, json, repair }) {
  const report = yield* withAdmin(dir, backend, (admin) => admin.verify({ repair }))
  if (json) yield* Console.log(JSON.stringify(report, null, 2))
  else {
    const p = yield* paint()
    const lines = [`checked ${report.manifests} manifests and ${report.blobs} blobs`]
    for (const d of report.damaged ?? []) lines.push(p.red(`  damaged pack ${d.file}: ${d.reason} (moved to the quarantine; its entries will be recomputed)`))
    for (const c of report.corrupt) lines.push(p.red(`  corrupt manifest ${Format.short(c.key)}: ${c.reason}`))
    for (const b of report.badBlobs) {
      lines.push(p.red(`  entry ${Format.short(b.key)}: ${b.codeParts ? "code parts " : ""}blob ${Format.short(b.digest)} ${b.reason}`))
    }
    if (report.orphanBlobs.length > 0) lines.push(`  ${report.orphanBlobs.length} blobs are referenced by no entry (harmless; \`expops cache prune\` removes them)`)
    // Corrupt code parts (see CodeParts) spoil `explain`, not the entries, which runs still serve.
    const onlyCodeParts = report.corrupt.length === 0 && (report.damaged ?? []).length === 0 && report.badBlobs.every((b) => b.codeParts)
    lines.push(
      report.ok
        ? p.green("ok: every entry is intact")
        : report.repaired && onlyCodeParts
        ? p.yellow("the corrupt code parts were moved aside; their entries are still served (`explain` says their code parts are missing)")
        : report.repaired
        ? p.yellow("the bad entries were moved aside; they will be recomputed on the next run")
        : onlyCodeParts
        ? p.red("problems found; run `expops cache verify --repair` to move the corrupt code parts aside (runs still serve their entries)")
        : p.red("problems found; run `expops cache verify --repair` to move the bad entries aside (runs already treat them as misses)")
    )
    yield* Console.log(lines.join("\n"))
  }
  if (!report.ok) return yield* new Failed({ message: "" })
})).pipe(
  Command.withDescription("Check every entry's checksum and blobs. Exit code 1 when anything is corrupt or missing."),
  Command.withExamples([
    { command: "expops cache verify examples/quickstart", description: "Check the cache" },
    { command: "expops cache verify examples/quickstart --repair", description: "Check, and move bad entries aside" }
  ])
)

const SIZE_UNITS = "(KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)"

const prune = Command.make("prune", {
  ...common,
  maxSize: Flag.String("max-size").pipe(
    Flag.optional,
    Flag.withDescription(`Keep the most recently used entries within this size, e.g. 500MB, 2GB ${SIZE_UNITS}`)
  ),
  olderThan: Flag.String("older-than").pipe(Flag.optional, Flag.withDescription("Remove entries not used for this long, e.g. 30d, 12h, 90m")),
  dryRun: Flag.Boolean("dry-run").pipe(Flag.withoutNegation, Flag.withDefault(false), Flag.withDescription("Show what would be removed; remove nothing"))
}, Effect.fn("expops.cache.prune")(function*({ backend, dir, dryRun, json, maxSize, olderThan }) {
  let maxSizeBytes: number | undefined
  if (Option.isSome(maxSize)) {
    const size = Units.parseSize(maxSize.value)
    if (Result.isFailure(size)) {
      return yield* new UsageError({
        message: size.failure._tag === "MissingUnit"
          ? `--max-size ${maxSize.value}: a size needs a unit; did you mean ${size.failure.suggestion}? ${SIZE_UNITS}`
          : `--max-size ${maxSize.value}: not a size (examples: 500MB, 2GB, 1.5GiB)`
      })
    }
    // A budget beyond what a number holds exactly (9 PB) is no budget at all.
    maxSizeBytes = Option.getOrElse(ByteSize.toNumber(size.success), () => Number.MAX_SAFE_INTEGER)
  }
  let olderThanMs: number | undefined
  if (Option.isSome(olderThan)) {
    const age = Units.parseDuration(olderThan.value)
    if (Option.isNone(age)) {
      return yield* new UsageError({ message: `--older-than ${olderThan.value}: not a duration (examples: 30d, 12h, 90m)` })
    }
    olderThanMs = Duration.toMillis(age.value)
  }
  if (maxSizeBytes === undefined && olderThanMs === undefined) {
    return yield* new UsageError({ message: "cache prune needs --max-size, --older-than or both (to remove everything, use `expops cache clear`)" })
  }
  const report = yield* withAdmin(dir, backend, (admin) => admin.prune({ maxSizeBytes, olderThanMs, dryRun }))
  if (json) return yield* Console.log(JSON.stringify(report, null, 2))
  const verb = report.dryRun ? "would remove" : "removed"
  const lines = [`${verb} ${report.removed.length} entries (${Format.bytes(report.freedBytes)}); kept ${report.kept} (${Format.bytes(report.keptBytes)})`]
  if (report.removed.length > 0) {
    lines.push(Format.table(report.removed.map((e) => [Format.short(e.key), e.kind, e.name, Format.bytes(e.size), `last used ${Format.timestamp(e.lastAccessAt)}`]), "  "))
  }
  yield* Console.log(lines.join("\n"))
})).pipe(
  Command.withDescription("Remove entries not used for a while, or the least recently used ones beyond a size budget"),
  Command.withExamples([
    { command: "expops cache prune examples/quickstart --max-size 2GB", description: "Keep the cache within 2 GB" },
    { command: "expops cache prune examples/quickstart --older-than 30d --dry-run", description: "What has not been used for 30 days?" }
  ])
)

/**
 * Whether to go on with `cache clear`: `--yes` says so; on a terminal the
 * user is asked; elsewhere (a script, CI) nobody can answer, so without
 * `--yes` nothing is removed.
 */
const confirmClear = Effect.fnUntraced(function*(dir: string, yes: boolean, json: boolean, entries: number, bytes: number) {
  if (yes || entries === 0) return true
  const stdio = yield* Stdio.Stdio
  const what = `every entry of the cache of ${dir} (${entries} entries, ${Format.bytes(bytes)})`
  if (json || !(yield* stdio.stdinIsTerminal) || !(yield* stdio.stderrIsTerminal)) {
    return yield* new UsageError({ message: `cache clear removes ${what}: pass --yes to do it without being asked (nothing was removed)` })
  }
  const write = yield* Output.writer("stderr")
  yield* write(`Remove ${what}? Run records are kept. [y/N] `)
  const answer = yield* Effect.orElseSucceed(Terminal.Terminal.use((terminal) => terminal.readLine), () => "")
  return /^\s*y(es)?\s*$/i.test(answer)
})

const clear = Command.make("clear", {
  ...common,
  yes: Flag.Boolean("yes").pipe(
    Flag.withAlias("y"),
    Flag.withoutNegation,
    Flag.withDefault(false),
    Flag.withDescription("Remove without asking (needed when not on a terminal)")
  )
}, Effect.fn("expops.cache.clear")(function*({ backend, dir, json, yes }) {
  // The terminal to ask on, for the effect that runs with the backend's services.
  const terminal = yield* Effect.context<Stdio.Stdio | Terminal.Terminal>()
  const result = yield* withAdmin(dir, backend, (admin) =>
    Effect.gen(function*() {
      const { bytes, entries } = yield* admin.stats
      if (!(yield* Effect.provideContext(confirmClear(dir, yes, json, entries, bytes), terminal))) return undefined
      return yield* admin.clear
    }))
  if (result === undefined) {
    yield* Console.error("nothing removed")
    return yield* new Failed({ message: "" })
  }
  if (json) return yield* Console.log(JSON.stringify(result, null, 2))
  yield* Console.log(`removed ${result.removed} entries (${Format.bytes(result.freedBytes)})`)
})).pipe(
  Command.withDescription(
    "Remove every entry of the project's cache (run records are kept). Asks first on a terminal; elsewhere it needs --yes"
  ),
  Command.withExamples([
    { command: "expops cache clear examples/quickstart", description: "Start from an empty cache (asks first)" },
    { command: "expops cache clear . --yes", description: "The same in a script" }
  ])
)

/**
 * @since 0.1.0
 */
export const command = Command.make("cache").pipe(
  Command.withDescription("Inspect and maintain a project's cache"),
  Command.withSubcommands([stats, ls, verify, prune, clear]),
  Command.withExamples([
    { command: "expops cache stats examples/quickstart", description: "How big is the cache?" },
    { command: "expops cache verify examples/quickstart", description: "Is every entry intact?" }
  ])
)

/**
 * Core errors this module's commands can end with (named for declaration files).
 *
 * @since 0.1.0
 */
export type CoreError = Core.ProjectConfig.ConfigError | Core.CacheStore.CacheStoreError | Core.RunStore.RunStoreError
