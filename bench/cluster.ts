/**
 * The cluster (issue 15): what sending a process to a runner costs, and
 * what runners buy for CPU-bound work. PostgreSQL is started here from
 * Debian's packages (as the integration test does); runners and drivers are
 * the real `expops worker` / `expops run --cluster` executables.
 *
 * - dispatch: a project of 40 independent no-op processes, run one at a time
 *   (`--concurrency 1`) in-process and through the cluster (one runner with
 *   one executor), alternating, every entry new each time (`--seed`: each
 *   process draws a random number, so its entry depends on the seed); the
 *   difference of the runs' `durationMs` (the pipeline's own time, without
 *   start-up or joining the cluster) over the process count is the dispatch
 *   overhead per process. Target: at most 15 ms.
 * - speed-up: 12 independent CPU-bound processes of about 1 s each on one
 *   runner against three (one executor each): the wall time of the runs. On
 *   2 cores, expect at most about 2x.
 *
 * Run: `npx node bench/cluster.ts [--quick]`, or with all benchmarks `npm run bench`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import * as Postgres from "@expops/cluster/testing/Postgres"
import { median, round } from "./harness.ts"

const root = path.resolve(import.meta.dirname, "..")
const bin = path.join(root, "packages/cli/dist/bin.js")
const NOOPS = 40
const SPINS = 12

const project = (dir: string, name: string, source: string, parameters = "") => {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(path.join(dir, "configs"), { recursive: true })
  mkdirSync(path.join(dir, "src"), { recursive: true })
  writeFileSync(path.join(dir, "src/pipeline.ts"), source)
  writeFileSync(
    path.join(dir, "configs/project_config.yaml"),
    `metadata:\n  name: ${name}\nreproducibility:\n  seed: 1\n${parameters}`
  )
}

const noopSource = () => {
  const names = Array.from({ length: NOOPS }, (_, i) => `p${i}`)
  return [
    `import { Pipeline, Process } from "@expops/core"`,
    `import { Effect, Random, Schema } from "effect"`,
    // One random draw: an entry that drew depends on the seed, so each `--seed` computes anew.
    ...names.map((n, i) =>
      `export const ${n} = Process.make({ name: "${n}", outputs: { v${i}: Schema.Int }, run: () => Effect.map(Random.nextInt, (r) => ({ v${i}: ${i} + (r & 0) })) })`
    ),
    `export default Pipeline.make({ name: "noop", processes: [${names.join(", ")}] })`,
    ""
  ].join("\n")
}

const spinSource = () => {
  const names = Array.from({ length: SPINS }, (_, i) => `s${i}`)
  return [
    `import { Pipeline, Process } from "@expops/core"`,
    `import { Effect, Random, Schema } from "effect"`,
    `export const spin = (n: number): number => { let x = 0; for (let k = 0; k < n; k++) x = (x * 31 + k) | 0; return x }`,
    ...names.map((n, i) =>
      `export const ${n} = Process.make({ name: "${n}", parameters: { iterations: Schema.Int }, outputs: { x${i}: Schema.Int }, ` +
      `run: (_, { iterations }) => Effect.map(Random.nextInt, (r) => ({ x${i}: spin(iterations) + (r & 0) })) })`
    ),
    `export default Pipeline.make({ name: "spin", processes: [${names.join(", ")}] })`,
    ""
  ].join("\n")
}

/** Iterations of `spin` that take about `ms` here. */
const calibrate = (ms: number): number => {
  const spin = (n: number): number => {
    let x = 0
    for (let k = 0; k < n; k++) x = (x * 31 + k) | 0
    return x
  }
  spin(1e7)
  const start = performance.now()
  spin(1e8)
  return Math.round(1e8 * ms / (performance.now() - start))
}

const exec = (args: ReadonlyArray<string>): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, NO_COLOR: "1" } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.stderr.on("data", (c) => (stderr += c))
    child.on("error", reject)
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })

/** Cluster runs: each process's time waiting (queuedMs) and running on its runner (durationMs). */
const waits: Array<number> = []
const runs: Array<number> = []

/** Of the last run: how many processes each runner ran, most first. */
let placement: Array<number> = []

const runMs = async (args: ReadonlyArray<string>): Promise<number> => {
  const result = await exec(["run", ...args, "--json"])
  if (result.status !== 0) throw new Error(`expops run ${args.join(" ")} failed: ${result.stderr.slice(-400)}`)
  const report = JSON.parse(result.stdout)
  if (report.processes.some((p: any) => p.status !== "executed")) throw new Error("a process was not executed: keys were not new")
  const perRunner = new Map<string, number>()
  for (const p of report.processes) if (p.runner !== undefined) perRunner.set(p.runner, (perRunner.get(p.runner) ?? 0) + 1)
  placement = [...perRunner.values()].sort((a, b) => b - a)
  for (const p of report.processes) {
    if (p.queuedMs !== undefined) waits.push(p.queuedMs)
    if (p.runner !== undefined) runs.push(p.durationMs)
  }
  return report.run.durationMs
}

/** Every worker's log: how many times a process started, for counting re-runs. */
const logs: Array<{ log: string }> = []

const startWorker = (dir: string, url: string): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "worker", dir, "--cluster", url, "--concurrency", "1"], {
      cwd: root,
      detached: true,
      stdio: ["ignore", "ignore", "pipe"]
    })
    const entry = { log: "" }
    logs.push(entry)
    child.stderr!.on("data", (c) => {
      entry.log += c
      if (/runner \S+ joined/.test(entry.log)) resolve(child)
    })
    child.on("exit", (code) => reject(new Error(`worker exited (${code}): ${entry.log}`)))
  })

const stop = (children: ReadonlyArray<ChildProcess>) => {
  for (const child of children) {
    try {
      process.kill(-child.pid!, "SIGKILL")
    } catch {
      // gone
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const run = async (options: { readonly quick: boolean; readonly workDir: string }) => {
  const pg = await Postgres.start()
  const workers: Array<ChildProcess> = []
  try {
    // Dispatch overhead.
    const noop = path.join(options.workDir, "cluster-noop")
    project(noop, "noop", noopSource())
    workers.push(await startWorker(noop, pg.url))
    let seed = 100
    // One cluster run first: the runner's first messages pay for loading what it had not loaded yet.
    await runMs([noop, "--cluster", pg.url, "--concurrency", "1", "--seed", String(seed++)])
    const rounds = options.quick ? 3 : 5
    const local: Array<number> = []
    const cluster: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      local.push(await runMs([noop, "--concurrency", "1", "--seed", String(seed++)]))
      cluster.push(await runMs([noop, "--cluster", pg.url, "--concurrency", "1", "--seed", String(seed++)]))
    }
    stop(workers.splice(0))
    const perProcess = {
      unit: "ms",
      processes: NOOPS,
      inProcess: round(median(local) / NOOPS),
      cluster: round(median(cluster) / NOOPS),
      overhead: round((median(cluster) - median(local)) / NOOPS),
      /** Of a process through the cluster: waiting (sent, stored, delivered, replied) and running on the runner. */
      queuedMs: round(median(waits)),
      onRunnerMs: round(median(runs))
    }

    // Speed-up of CPU-bound work.
    const spin = path.join(options.workDir, "cluster-spin")
    const iterations = calibrate(options.quick ? 500 : 1000)
    project(
      spin,
      "spin",
      spinSource(),
      `model:\n  parameters:\n    pipeline:\n      processes:\n${
        Array.from({ length: SPINS }, (_, i) => `        - name: s${i}\n          parameters: { iterations: ${iterations} }\n`).join("")
      }`
    )
    // A cluster of its own: one database serves one project.
    const url = pg.createDatabase("spin")
    workers.push(await startWorker(spin, url))
    const one = await runMs([spin, "--cluster", url, "--seed", "1"])
    workers.push(...await Promise.all([startWorker(spin, url), startWorker(spin, url)]))
    // Until the shards have moved to the new runners.
    await sleep(4000)
    const before = logs.map((l) => l.log.length)
    const three = await runMs([spin, "--cluster", url, "--seed", "2"])
    // Starts beyond one per process: work interrupted (shards moving) and run again.
    const starts = logs.reduce((n, l, i) => n + (l.log.slice(before[i]).match(/ started \(key/g)?.length ?? 0), 0)
    return {
      dispatch: perProcess,
      speedUp: {
        unit: "ms",
        processes: SPINS,
        processMs: options.quick ? 500 : 1000,
        oneRunner: Math.round(one),
        threeRunners: Math.round(three),
        speedUp: round(one / three),
        /** Processes per runner in the 3-runner run: placement follows the keys' shards, not the load. */
        placement,
        /** The best the placement allowed on 3 cores: the busiest runner's share. */
        placementBound: round(SPINS / Math.max(1, placement[0] ?? SPINS)),
        reruns: starts - SPINS
      }
    }
  } finally {
    stop(workers)
    pg.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes("--quick")
  const workDir = path.join(import.meta.dirname, ".work")
  mkdirSync(workDir, { recursive: true })
  console.log(JSON.stringify(await run({ quick, workDir }), null, 2))
}
