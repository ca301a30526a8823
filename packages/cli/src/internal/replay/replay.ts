/**
 * `expops run` answered from the receipt of the last fully cached run (see
 * `receipt.ts`), before the CLI, the project or `effect` load: when every
 * input the receipt lists is as it was, the run would serve the same
 * entries and report the same processes, so it checks that those entries
 * are still in the store byte for byte, records the run (the run history,
 * the cache index's reads) as the full path does, and prints what the full
 * path prints. Anything else (a changed input, a missing or changed entry,
 * a database it cannot open, an option it does not know) leaves the run to
 * the full path, which then does and reports whatever is needed.
 *
 * Not replayed: load-time effects of the project's modules (they are not
 * loaded) and the live record `expops ui` follows while a run goes (the run
 * appears when it is saved, a few milliseconds after it starts).
 * `EXPOPS_REPLAY=0` turns replays off. No `effect` import here.
 */
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { performance } from "node:perf_hooks"
import { schemaVersion, SCHEMA_VERSION, open, recordReads, writeRun } from "@expops/backend-local/SqliteRecords"
import type { RunEvents, RunReport } from "@expops/core"
import { makeRunId } from "@expops/core/RunRecords"
import * as Ansi from "../ansi.ts"
import * as Board from "../progressBoard.ts"
import * as Report from "../report.ts"
import * as Receipt from "./receipt.ts"
import * as State from "./state.ts"

/** The options a replay knows; any other leaves the run to the full path. */
const FLAGS = new Set(["--json", "--strict"])
const VALUED = new Set(["--seed", "--concurrency", "--backend"])

/** The project folder of `expops run DIR [options]`, or `undefined` when the arguments are not ones a replay answers. */
export const projectDir = (args: ReadonlyArray<string>, cwd: string): string | undefined => {
  if (args[0] !== "run") return undefined
  let dir: string | undefined
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!
    if (FLAGS.has(arg)) continue
    const [name, inline] = arg.split("=", 2) as [string, string | undefined]
    if (VALUED.has(name)) {
      const value = inline ?? args[++i]
      if (value === undefined || (name === "--backend" && value !== "local")) return undefined
      continue
    }
    if (arg.startsWith("-") || dir !== undefined) return undefined
    dir = arg
  }
  return dir === undefined ? undefined : Path.resolve(cwd, dir)
}

const read = (file: string): Receipt.Receipt | undefined => {
  try {
    const receipt = JSON.parse(readFileSync(file, "utf8")) as Receipt.Receipt
    return receipt.version === Receipt.VERSION ? receipt : undefined
  } catch {
    return undefined
  }
}

/** What a replay did: answered the run (its exit code), or left it to the full path, and why. */
export type Outcome =
  | { readonly _tag: "Replayed"; readonly exitCode: number }
  | { readonly _tag: "Declined"; readonly reason: string }

const declined = (reason: string): Outcome => ({ _tag: "Declined", reason })

/**
 * Answers `expops run` from its receipt, or declines (nothing written or
 * printed then) and says why.
 */
export const attempt = (args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv): Outcome => {
  if (env.EXPOPS_REPLAY === "0") return declined("EXPOPS_REPLAY=0")
  const dir = projectDir(args, cwd)
  if (dir === undefined) return declined("options a replay does not answer")
  const invocation = Receipt.invocation(cwd, args)
  const environment = Receipt.environment(env)
  const receipt = read(Receipt.location(dir, invocation, environment))
  if (receipt === undefined || receipt.invocation !== invocation || receipt.environment !== environment) {
    return declined("no receipt of a fully cached run with these arguments, working folder and environment")
  }
  for (const [path, state] of receipt.paths) if (!State.unchanged(path, state)) return declined(`${path} changed`)

  const startedAt = Date.now()
  const started = performance.now()
  const template = receipt.report as RunReport.RunReport
  // The entries the run read, byte for byte; each process's own is timed as its serving.
  const served = new Map(template.processes.map((p) => [p.key, p.name]))
  const durations = new Map<string, number>()
  for (const [manifest, digest, key, offset, length, fileSize] of receipt.manifests) {
    const at = performance.now()
    if (Receipt.digestOf(manifest, offset, length, fileSize) !== digest) return declined(`the cache entry ${key} is gone or changed`)
    const process = served.get(key)
    if (process !== undefined) durations.set(process, performance.now() - at)
  }
  const report: RunReport.RunReport = {
    ...template,
    run: { ...template.run, id: makeRunId(startedAt), startedAt, durationMs: performance.now() - started },
    processes: template.processes.map((p) => ({ ...p, durationMs: durations.get(p.name) ?? 0 }))
  }

  let db: ReturnType<typeof open> | undefined
  try {
    db = open(receipt.database, 10_000, (db) => {
      if (schemaVersion(db) !== SCHEMA_VERSION) throw new Error(`its tables are not at version ${SCHEMA_VERSION}`)
    })
    writeRun(db, report, JSON.stringify(report))
    const now = Date.now()
    recordReads(db, receipt.manifests.map(([, , key]) => [key, now] as const))
  } catch (error) {
    // Not recorded here: the full path records it, or says why it cannot.
    return declined(`${receipt.database}: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    db?.close()
  }
  show(report, receipt, args.includes("--json"), env)
  return { _tag: "Replayed", exitCode: 0 }
}

/** Prints what the full path prints for the same run: progress, the summary (and the report with `--json`). */
const show = (report: RunReport.RunReport, receipt: Receipt.Receipt, json: boolean, env: NodeJS.ProcessEnv) => {
  const out = json ? process.stderr : process.stdout
  const { color, live } = Ansi.capabilities(out.isTTY === true, env)
  const board = Board.make({ processes: receipt.order, baseOf: (name) => receipt.bases[name], color })
  const now = Date.now()
  let text = ""
  for (const p of report.processes) {
    const start: RunEvents.RunEvent = { kind: "process", phase: "start", process: p.name }
    board.onProcess(start, now)
    const line = board.onProcess({ kind: "process", phase: "hit", process: p.name, durationMs: p.durationMs }, now)
    if (!live && line !== undefined) text += line
  }
  if (live) text = `${Ansi.hideCursor}${board.frame(now, process.stdout.columns ?? 0, 0).map((line) => `${Ansi.clearLine}${line}\n`).join("")}${Ansi.showCursor}`
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  out.write(`${text}${Report.summary(report, Ansi.paint(color), receipt.layers)}\n`)
}
