/**
 * Comparison 6: what starting the CLI costs, through the executable
 * (packages/cli/dist/bin.js) as a user runs it, each in a fresh Node process,
 * alternating over rounds:
 *
 * - `expops --version`, against an empty Node process (`node -e 0`);
 * - a fully cached `expops run` of the quick start (a copy of
 *   examples/quickstart in bench/.work/, run once cold first and once fully
 *   cached, which leaves its receipt), answered by the replay, against an
 *   empty Node process;
 * - the same run on the full path (`EXPOPS_REPLAY=0`: the CLI, the project
 *   and effect loaded), against the floor that path cannot go below: a Node
 *   process importing what the quick start's own modules import (effect's
 *   subpaths `effect/Effect`, `effect/Random`, `effect/Schema`, and
 *   `@expops/core`);
 * - the full path with the module memo off as well (`EXPOPS_MODULE_MEMO=0`):
 *   what keeping Node's answers about where modules are saves;
 * - the full path on a copy whose modules import the `effect` barrel
 *   instead: what a project pays for loading all of effect.
 */
import { spawn } from "node:child_process"
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { round } from "../harness.ts"
import { alternate, log } from "./alternate.ts"

export interface StartUpResult {
  readonly unit: "ms"
  readonly rounds: number
  readonly nodeStartup: number
  readonly version: number
  /** `expops --version` over an empty Node process (target: at most 3). */
  readonly versionOverNode: number
  /** A fully cached run, answered from its receipt (the replay). */
  readonly quickstartCached: number
  /** The replay over an empty Node process (target: 0.2 s; the acceptance check allows 5x). */
  readonly quickstartCachedOverNode: number
  /** The same run on the full path (`EXPOPS_REPLAY=0`). */
  readonly quickstartCachedFullPath: number
  /** The full path with the module memo off. */
  readonly quickstartCachedNoMemo: number
  /** A Node process importing effect's subpaths and `@expops/core`, as the quick start's modules do. */
  readonly quickstartImports: number
  /** The cached run of a copy importing the `effect` barrel, on the full path. */
  readonly quickstartBarrelCached: number
  readonly notes: ReadonlyArray<string>
}

const root = path.join(import.meta.dirname, "..", "..")
const CLI_BIN = path.join(root, "packages", "cli", "dist", "bin.js")

const spawnTimed = (args: ReadonlyArray<string>, cwd: string, env: Record<string, string> = {}) =>
  new Promise<number>((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    child.stdout.resume()
    child.stderr.on("data", (c) => (stderr += c))
    child.on("error", reject)
    child.on("close", (code) => {
      const ms = performance.now() - start
      if (code === 0) resolve(ms)
      else reject(new Error(`node ${args.join(" ")} exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`))
    })
  })

const spawnOut = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "ignore"] })
    let stdout = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.on("error", reject)
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`node ${args.join(" ")} exited with ${code}`))))
  })

const spawnErr = (args: ReadonlyArray<string>, cwd: string, env: Record<string, string>) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (c) => (stderr += c))
    child.on("error", reject)
    child.on("close", () => resolve(stderr))
  })

/** A copy of the quick start whose modules import the `effect` barrel instead of its subpaths. */
const toBarrel = (dir: string) => {
  const src = path.join(dir, "src")
  for (const name of readdirSync(src)) {
    if (!name.endsWith(".ts")) continue
    const file = path.join(src, name)
    const text = readFileSync(file, "utf8")
    const names = [...text.matchAll(/^import \* as (\w+) from "effect\/\w+"\n/gm)].map((m) => m[1])
    if (names.length === 0) continue
    const rest = text.replace(/^import \* as \w+ from "effect\/\w+"\n/gm, "")
    // Where the first subpath import was: before the project's own imports.
    const at = text.search(/^import \* as \w+ from "effect\//m)
    writeFileSync(file, `${rest.slice(0, at)}import { ${names.join(", ")} } from "effect"\n${rest.slice(at)}`)
  }
}

export const run = async (options: { readonly quick: boolean; readonly workDir: string }): Promise<StartUpResult> => {
  const rounds = options.quick ? 5 : 11
  const notes: Array<string> = []
  const shipped = path.join(options.workDir, "quickstart")
  const barrel = path.join(options.workDir, "quickstart-barrel")
  for (const dir of [shipped, barrel]) {
    rmSync(dir, { recursive: true, force: true })
    cpSync(path.join(root, "examples", "quickstart"), dir, { recursive: true, filter: (s) => ![".expops", "node_modules"].includes(path.basename(s)) })
  }
  toBarrel(barrel)
  log("start-up: a cold run of each copy of the quick start (trains once)")
  for (const dir of [shipped, barrel]) {
    await spawnTimed([CLI_BIN, "run", dir, "--json"], dir)
    // What is timed below must be a fully cached run.
    const report = JSON.parse(await spawnOut([CLI_BIN, "run", dir, "--json"], dir))
    const other = report.processes.filter((p: { status: string }) => p.status !== "cached").map((p: { name: string }) => p.name)
    if (report.run.status !== "success" || other.length > 0) throw new Error(`${path.basename(dir)}: the second run is not fully cached (${other.join(", ")})`)
  }
  const said = await spawnErr([CLI_BIN, "run", shipped, "--json"], shipped, { EXPOPS_REPLAY: "explain" })
  if (!said.includes("replay: answered")) throw new Error(`the third run of the quick start was not replayed: ${said.trim()}`)

  log(`start-up: ${rounds} rounds`)
  const imports = ["effect/Effect", "effect/Random", "effect/Schema", "@expops/core"].map((m) => `await import("${m}");`).join(" ")
  const m = (await alternate({
    nodeStartup: () => spawnTimed(["-e", "0"], shipped),
    version: () => spawnTimed([CLI_BIN, "--version"], shipped),
    quickstartCached: () => spawnTimed([CLI_BIN, "run", shipped, "--json"], shipped),
    quickstartCachedFullPath: () => spawnTimed([CLI_BIN, "run", shipped, "--json"], shipped, { EXPOPS_REPLAY: "0" }),
    quickstartCachedNoMemo: () => spawnTimed([CLI_BIN, "run", shipped, "--json"], shipped, { EXPOPS_REPLAY: "0", EXPOPS_MODULE_MEMO: "0" }),
    // From the project's folder, so both resolve as its modules resolve them; with the compile cache, as the CLI has it.
    quickstartImports: () =>
      spawnTimed(["--input-type=module", "-e", `import { enableCompileCache } from "node:module"; enableCompileCache(); ${imports}`], shipped),
    quickstartBarrelCached: () => spawnTimed([CLI_BIN, "run", barrel, "--json"], barrel, { EXPOPS_REPLAY: "0" })
  }, rounds)).median
  rmSync(shipped, { recursive: true, force: true })
  rmSync(barrel, { recursive: true, force: true })
  return {
    unit: "ms",
    rounds,
    nodeStartup: round(m.nodeStartup),
    version: round(m.version),
    versionOverNode: round(m.version / m.nodeStartup),
    quickstartCached: round(m.quickstartCached),
    quickstartCachedOverNode: round(m.quickstartCached / m.nodeStartup),
    quickstartCachedFullPath: round(m.quickstartCachedFullPath),
    quickstartCachedNoMemo: round(m.quickstartCachedNoMemo),
    quickstartImports: round(m.quickstartImports),
    quickstartBarrelCached: round(m.quickstartBarrelCached),
    notes
  }
}
