/**
 * `npm run bench`: every benchmark, side by side with the tools a user would
 * pick instead, in one run.
 *
 *   npm run bench                  full run, prints a table
 *   npm run bench -- --quick       reduced (smaller stores, fewer rounds), under two minutes
 *   npm run bench -- --json        one JSON document on stdout; progress on stderr
 *   npm run bench -- --only=hitOverhead,largeHash   some sections only (for development)
 *   npm run bench -- --keep-work   keep the stores built in bench/.work/
 *
 * Sections: core (bench/core.ts), hitOverhead, largeHash, recordsHash,
 * fingerprint, warmPipeline, startUp, fanout (bench/fanout.ts), store (from
 * bench/local.ts when present, else bench/compare/store.ts), local
 * (bench/local.ts), gcs (bench/gcs.ts), cluster (bench/cluster.ts: needs Debian's
 * postgresql). Each target (`targets`) says met or
 * missed, with its ratio measured in the same run. A
 * section that fails is reported with its error and the others still run;
 * the exit status is then 1. See docs/performance.md.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { log } from "./compare/alternate.ts"
import * as Machine from "./compare/machine.ts"
import * as Python from "./compare/python.ts"

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const json = args.includes("--json")
const keepWork = args.includes("--keep-work")
const only = args.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",")
const unknown = args.filter((a) => !["--quick", "--json", "--keep-work"].includes(a) && !a.startsWith("--only="))
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown option ${unknown.join(" ")}\nusage: npm run bench -- [--quick] [--json] [--only=a,b] [--keep-work]\n`)
  process.exit(2)
}

const root = path.resolve(import.meta.dirname, "..")
const workDir = path.join(import.meta.dirname, ".work")
const wanted = (name: string) => only === undefined || only.includes(name)
const started = performance.now()
const notes: Array<string> = []
let failures = 0

if (quick) notes.push("quick mode: fewer rounds, stores of 10,000 entries, large outputs of 32 MiB: rougher figures")
const machine = Machine.describe()
const built = Machine.ensureBuilt(root)
if (built !== undefined) notes.push(built)
mkdirSync(workDir, { recursive: true })

// Imported after the build check: these modules load @expops/* from dist/.
const HitOverhead = await import("./compare/hitOverhead.ts")
const Hashing = await import("./compare/hashing.ts")
const PipelineBench = await import("./compare/pipeline.ts")
const Fingerprint = await import("./compare/fingerprint.ts")
const Store = await import("./compare/store.ts")
const StartUp = await import("./compare/startUp.ts")

/** Runs a section; a failure becomes `{ error }` merged into `empty`, so the document keeps its shape. */
const section = async <A extends object>(name: string, empty: object, f: () => Promise<A>): Promise<A | Record<string, unknown>> => {
  if (!wanted(name)) return { ...empty, skipped: "not selected with --only" }
  log(`${name}: start`)
  const start = performance.now()
  try {
    const result = await f()
    log(`${name}: done in ${((performance.now() - start) / 1000).toFixed(1)} s`)
    return result
  } catch (error) {
    failures++
    const message = error instanceof Error ? error.message : String(error)
    log(`${name}: FAILED: ${message}`)
    if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`)
    return { ...empty, error: message }
  }
}

/** bench/local.ts and bench/gcs.ts are written separately: included when present. */
const optional = async (name: string, file: string) => {
  const full = path.join(import.meta.dirname, file)
  if (!existsSync(full)) {
    notes.push(`${name}: bench/${file} not found, skipped`)
    return { skipped: `bench/${file} not found` }
  }
  return section(name, {}, async () => {
    const module = await import(pathToFileURL(full).href) as { run: (o: { quick: boolean }) => Promise<object> }
    return module.run({ quick })
  })
}

const needsJoblib = wanted("hitOverhead") || wanted("largeHash")
const joblib: Python.Joblib = needsJoblib ? await Python.start() : { server: undefined, versions: {}, reason: "not needed" }
if (needsJoblib && joblib.server === undefined) notes.push(`joblib unavailable: ${joblib.reason}`)

const core = await section("core", {}, async () => {
  const module = await import("./core.ts")
  return module.run({ quick })
})

const hitOverhead = await section(
  "hitOverhead",
  { unit: "us", expops: null, joblib: null, persistedCache: null, cacache: null },
  () => HitOverhead.run({ quick, workDir, joblib })
)
const largeHash = await section(
  "largeHash",
  { unit: "GB/s", expops: null, nodeSha256: null, joblib: null },
  () => Hashing.largeHash({ quick, joblib: joblib.server })
)
joblib.server?.close()
const recordsHash = await section("recordsHash", { unit: "ms", expops: null, jsonSha256: null }, () => Hashing.recordsHash({ quick }))
const fingerprint = await section(
  "fingerprint",
  { unit: "ms", cold: null, warm: null, oneFileEdited: null },
  () => Fingerprint.run({ quick, workDir })
)
const warmPipeline = await section("warmPipeline", { unit: "ms", inProcess: null, cli: null }, () => PipelineBench.run({ quick, workDir }))
const startUp = await section(
  "startUp",
  {
    unit: "ms",
    nodeStartup: null,
    version: null,
    quickstartCached: null,
    quickstartCachedFullPath: null,
    quickstartCachedNoMemo: null,
    quickstartImports: null
  },
  () => StartUp.run({ quick, workDir })
)
const fanout = await section("fanout", { plan: null, cachedRun: null }, async () => {
  const module = await import("./fanout.ts")
  return module.run({ quick, workDir })
})
const local: any = await optional("local", "local.ts")

/** The store figures of bench/local.ts, in this document's terms. */
const storeFromLocal = (l: any) => {
  const largest = [...(l.throughput ?? [])].sort((a: any, b: any) => b.bytes - a.bytes)[0]
  if (l.store1KiB === undefined || largest === undefined) return undefined
  return {
    source: "bench/local.ts",
    smallEntries: {
      unit: "entries/s",
      durable: Math.round(1e6 / l.store1KiB.stepMissDurable),
      noFsync: Math.round(1e6 / l.store1KiB.stepMissNoFsync),
      durableUsPerEntry: l.store1KiB.stepMissDurable,
      noFsyncUsPerEntry: l.store1KiB.stepMissNoFsync
    },
    largeOutput: {
      unit: "MB/s",
      mib: largest.bytes / (1024 * 1024),
      write: largest.write,
      read: largest.read,
      writeExtraPeakMiB: largest.peak?.writeRss ?? null,
      readPeakMiB: largest.peak?.readRss ?? null
    },
    throughput: l.throughput
  }
}
// bench/local.ts measures the same things: its figures are reused. Peak
// memory is measured again here in fresh processes (a long-lived process's
// RSS hides a peak in memory it had already grown into), with floors.
const fromLocal = local?.error === undefined && local?.skipped === undefined ? storeFromLocal(local) : undefined
const store = fromLocal !== undefined
  ? await section("store", fromLocal, async () => ({ ...fromLocal, freshProcess: await Store.largeOutput({ quick, workDir }) }))
  : await section("store", {}, () => Store.run({ quick, workDir }))
const gcs = await optional("gcs", "gcs.ts")
const cluster = await section("cluster", { dispatch: null, speedUp: null }, async () => {
  const module = await import("./cluster.ts")
  return module.run({ quick, workDir })
})

const num = (x: unknown): number | null => (typeof x === "number" ? x : null)
const h = hitOverhead as any
const l = largeHash as any
const r = recordsHash as any
const f = fingerprint as any
const fo = fanout as any
const target = (name: string, value: number | null, text: string, met: (v: number) => boolean) => ({
  name,
  target: text,
  value,
  met: value === null ? null : met(value)
})
const u = startUp as any
const large = (store as any)?.freshProcess ?? (store as any)?.largeOutput
const targets = [
  // Issue 16.
  target("ExpOps hit over the sync open+read+close floor, 1 KiB, local store", num(h.expopsOverFloor), "<= 2x (issue 16)", (v) => v <= 2),
  target("joblib hit time over ExpOps hit time", num(h.joblibOverExpops), ">= 5x (issue 16)", (v) => v >= 5),
  target("ExpOps records key time over JSON.stringify + SHA-256", num(r.expopsOverJson), "<= 2x (issue 16)", (v) => v <= 2),
  target("expops --version over an empty Node process", num(u.versionOverNode), "<= 3x (issue 16)", (v) => v <= 3),
  target("fully cached expops run of the quick start, through the bin (ms)", num(u.quickstartCached), "<= 200 ms (issue 16)", (v) => v <= 200),
  target("the same run over an empty Node process", num(u.quickstartCachedOverNode), "<= 5x (acceptance cli-startup)", (v) => v <= 5),
  target(`storing a ${large?.mib ?? 256} MiB output over write+fsync`, num(large?.writeOverFloor), ">= 0.9x (issue 16)", (v) => v >= 0.9),
  target(`restoring a ${large?.mib ?? 256} MiB output over read+SHA-256`, num(large?.readOverFloor), ">= 0.9x (issue 16)", (v) => v >= 0.9),
  // Earlier issues.
  target("ExpOps hit, 1 KiB, local store (us)", num(h.expops), "<= 30 us (issue 3)", (v) => v <= 30),
  target("ExpOps large-input key throughput over raw SHA-256", num(l.expopsOverSha256), ">= 0.9x", (v) => v >= 0.9),
  target("CanonicalHash.digest of records over JSON.stringify + SHA-256", num(r.canonicalHashOverJson), "<= 2x", (v) => v <= 2),
  target("fingerprinting the quick start at start-up, cold (ms)", num(f.cold), "<= 40 ms", (v) => v <= 40),
  target("fingerprinting the quick start at start-up, no file changed (ms)", num(f.warm), "<= 5 ms", (v) => v <= 5),
  target("fan-out: expanding and validating 100 seeds x 10 processes, over planning without it (ms)", num(fo.plan?.overhead), "< 20 ms (issue 13)", (v) => v < 20),
  target("cluster: dispatch overhead per no-op process on loopback, over in-process (ms)", num((cluster as any)?.dispatch?.overhead), "<= 15 ms (issue 15)", (v) => v <= 15)
]

if (!keepWork) {
  for (const name of ["hit-overhead", "pipeline", "store", "quickstart", "quickstart-barrel", "fanout", "cluster-noop", "cluster-spin"]) rmSync(path.join(workDir, name), { recursive: true, force: true })
}

const document = {
  hitOverhead,
  largeHash,
  recordsHash,
  fingerprint,
  warmPipeline,
  startUp,
  fanout,
  store,
  core,
  local,
  gcs,
  cluster,
  targets,
  date: new Date().toISOString(),
  mode: quick ? "quick" : "full",
  durationSeconds: Math.round((performance.now() - started) / 1000),
  machine: { ...machine, loadAverage: { ...machine.loadAverage, end: Math.round(os.loadavg()[0]! * 100) / 100 } },
  notes: [...notes, ...[hitOverhead, warmPipeline, startUp, store].flatMap((s: any) => s?.notes ?? [])]
}

if (json) process.stdout.write(`${JSON.stringify(document, null, 2)}\n`)
else {
  const { table } = await import("./compare/report.ts")
  process.stdout.write(`${table(document)}\n`)
}
process.exitCode = failures > 0 ? 1 : 0
