/**
 * Comparison 4: a fully cached pipeline of 1,000 steps (10 processes of 100
 * steps), on the local backend.
 *
 * - warm, in-process: `Pipeline.run` with every process a hit (a process hit
 *   skips its steps, so this is 10 lookups), the backend opened per run as a
 *   script would;
 * - warm, CLI: `expops run DIR --json` in a fresh Node process, start-up
 *   included; under it, `expops --version` (loading the CLI and its
 *   libraries) and an empty Node process;
 * - steps hit: every process misses (its `version` is bumped each round) and
 *   all 1,000 of its steps hit; the processes' new outputs are stored;
 * - cold: a new start of the chain each round (process_0's `start`
 *   parameter), so every key is new and all 1,010
 *   entries are computed and stored durably, against the same pipeline run
 *   with caching off (`Cache.layer({ mode: "off" })`).
 */
import { spawn } from "node:child_process"
import { existsSync, rmSync } from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"
import { Cache, Pipeline, Reproducibility } from "@expops/core"
import { LocalBackend } from "@expops/backend-local"
import { Effect, Layer } from "effect"
import { round } from "../harness.ts"
import { alternate, log } from "./alternate.ts"
import * as Project from "./pipelineProject.ts"

export interface PipelineResult {
  readonly unit: "ms"
  readonly steps: number
  readonly processes: number
  readonly rounds: number
  /** Warm run, every process a hit, in-process. */
  readonly inProcess: number
  /** Warm run through `expops run`, Node start-up included; null when the CLI is unavailable. */
  readonly cli: number | null
  readonly nodeStartup: number
  /** `expops --version`: loading the CLI and its libraries, no project. */
  readonly cliVersion: number | null
  /** Processes miss, all 1,000 steps hit, in-process. */
  readonly stepsHitInProcess: number
  readonly stepsHitCli: number | null
  /** Per step, from stepsHitInProcess. */
  readonly stepsHitPerStepUs: number
  readonly coldCached: number
  readonly coldNoCache: number
  /** What caching adds to a cold run, per stored entry. */
  readonly coldOverheadPerEntryUs: number
  readonly coldRounds: number
  readonly notes: ReadonlyArray<string>
}

type Report = {
  readonly run: { readonly status: string }
  readonly processes: ReadonlyArray<{ readonly name: string; readonly status: string; readonly steps: ReadonlyArray<{ readonly status: string }> }>
}

const CLI_BIN = path.join(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.js")

const spawnTimed = (args: Array<string>, options: { cwd: string; env?: Record<string, string> }) =>
  new Promise<{ ms: number; code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: { ...process.env, ...options.env, NO_COLOR: "1" } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.stderr.on("data", (c) => (stderr += c))
    child.on("error", reject)
    child.on("close", (code) => resolve({ ms: performance.now() - start, code, stdout, stderr }))
  })

/**
 * Checks a report: every process `processStatus`; when they executed, each
 * ran all its steps with `stepStatus`.
 */
const check = (report: Report, processStatus: "cached" | "executed", what: string, stepStatus = "cached"): void => {
  if (report.run.status !== "success") throw new Error(`${what}: the run failed`)
  for (const p of report.processes) {
    if (p.status !== processStatus) throw new Error(`${what}: process ${p.name} is ${p.status}, expected ${processStatus}`)
    if (processStatus === "executed") {
      const other = p.steps.filter((s) => s.status !== stepStatus).length
      if (p.steps.length !== Project.STEPS_PER_PROCESS || other > 0) {
        throw new Error(`${what}: process ${p.name} ran ${p.steps.length} steps, ${other} of them not ${stepStatus}`)
      }
    }
  }
}

export const run = async (options: { readonly quick: boolean; readonly workDir: string }): Promise<PipelineResult> => {
  const rounds = options.quick ? 3 : 9
  const coldRounds = options.quick ? 2 : 5
  const notes: Array<string> = []
  const dir = path.join(options.workDir, "pipeline")
  rmSync(dir, { recursive: true, force: true })
  const main = Project.write(dir)
  const module = await import(pathToFileURL(main).href) as { makePipeline: (version: string) => Pipeline.Pipeline<never> }

  const runInProcess = (pipeline: Pipeline.Pipeline<never>, options?: { seed?: number; mode?: Cache.Mode; start?: number }) =>
    Effect.runPromise(
      Pipeline.run(pipeline, options?.start === undefined ? {} : { parameters: { process_0: { start: options.start } } }).pipe(
        Effect.provide(Layer.mergeAll(
          Layer.provideMerge(Cache.layer({ mode: options?.mode ?? "read-write" }), LocalBackend.layer(dir)),
          Reproducibility.layer(options?.seed ?? Project.SEED)
        ))
      )
    ) as Promise<Report>

  log("pipeline: first (cold) run")
  check(await runInProcess(module.makePipeline("1")), "executed", "first run", "executed")
  const warm = await runInProcess(module.makePipeline("1"))
  check(warm, "cached", "warm run")

  let cliAvailable = existsSync(CLI_BIN)
  if (!cliAvailable) notes.push(`CLI unavailable: ${path.relative(process.cwd(), CLI_BIN)} not found (run npm run build)`)
  const cli = async (version: string, expected: "cached" | "executed") => {
    const result = await spawnTimed([CLI_BIN, "run", dir, "--json"], { cwd: dir, env: { EXPOPS_BENCH_PROCESS_VERSION: version } })
    if (result.code !== 0) throw new Error(`expops run exited with ${result.code}: ${result.stderr.trim().split("\n").slice(-3).join(" | ")}`)
    check(JSON.parse(result.stdout), expected, `expops run (version ${version})`)
    return result.ms
  }
  if (cliAvailable) {
    try {
      // The CLI fingerprints relative to the project folder, an in-process
      // import relative to where it runs, so their keys differ: the CLI's
      // first run stores its own entries, then it must hit.
      const first = await spawnTimed([CLI_BIN, "run", dir, "--json"], { cwd: dir, env: { EXPOPS_BENCH_PROCESS_VERSION: "1" } })
      if (first.code !== 0) throw new Error(`expops run exited with ${first.code}: ${first.stderr.trim().split("\n").slice(-3).join(" | ")}`)
      await cli("1", "cached")
    } catch (error) {
      cliAvailable = false
      notes.push(`CLI unavailable: ${(error as Error).message}`)
    }
  }

  log(`pipeline: ${rounds} rounds of warm runs, in-process and through the CLI`)
  const timed = async (f: () => Promise<unknown>) => {
    const start = performance.now()
    await f()
    return performance.now() - start
  }
  const warmRounds = await alternate({
    inProcess: () => timed(async () => check(await runInProcess(module.makePipeline("1")), "cached", "warm run")),
    nodeStartup: async () => (await spawnTimed(["-e", "0"], { cwd: dir })).ms,
    ...(cliAvailable
      ? {
        cli: () => cli("1", "cached"),
        cliVersion: async () => {
          const result = await spawnTimed([CLI_BIN, "--version"], { cwd: dir })
          if (result.code !== 0) throw new Error(`expops --version exited with ${result.code}`)
          return result.ms
        }
      }
      : {})
  } as Record<string, (r: number) => Promise<number>>, rounds)

  log(`pipeline: ${rounds} rounds with every process missing and every step hitting`)
  const stepsRounds = await alternate({
    inProcess: (r: number) =>
      timed(async () => check(await runInProcess(module.makePipeline(`in-process-${r}`)), "executed", "steps-hit run")),
    ...(cliAvailable ? { cli: (r: number) => cli(`cli-${r}`, "executed") } : {})
  } as Record<string, (r: number) => Promise<number>>, rounds)

  log(`pipeline: ${coldRounds} cold rounds, cached against caching off`)
  const coldRun = await alternate({
    cached: (r: number) =>
      timed(async () => check(await runInProcess(module.makePipeline("1"), { start: 1000 + r + 1 }), "executed", "cold run", "executed")),
    noCache: (r: number) =>
      timed(async () => {
        const report = await runInProcess(module.makePipeline("1"), { start: 1000 + r + 1, mode: "off" })
        if (report.run.status !== "success") throw new Error("cold run without cache failed")
      })
  }, coldRounds)

  const steps = Project.PROCESSES * Project.STEPS_PER_PROCESS
  const entries = steps + Project.PROCESSES
  const w = warmRounds.median
  const s = stepsRounds.median
  const c = coldRun.median
  return {
    unit: "ms",
    steps,
    processes: Project.PROCESSES,
    rounds,
    inProcess: round(w.inProcess!),
    cli: w.cli === undefined ? null : round(w.cli),
    nodeStartup: round(w.nodeStartup!),
    cliVersion: w.cliVersion === undefined ? null : round(w.cliVersion),
    stepsHitInProcess: round(s.inProcess!),
    stepsHitCli: s.cli === undefined ? null : round(s.cli),
    stepsHitPerStepUs: round((s.inProcess! * 1000) / steps),
    coldCached: round(c.cached),
    coldNoCache: round(c.noCache),
    coldOverheadPerEntryUs: round(((c.cached - c.noCache) * 1000) / entries),
    coldRounds,
    notes
  }
}

