/**
 * Helpers for tests that spawn the real CLI on temporary copies of the
 * quick-start example.
 */
import { spawn, spawnSync } from "node:child_process"
import { Console as NodeConsole } from "node:console"
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import type { Cli } from "@expops/cli"
import { WorkingDirectory } from "@expops/cli"
import type { RunReport } from "@expops/core"
import { ConfigProvider, Console, Effect, Layer, Sink, Stdio, Stream, Terminal } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { afterAll } from "vitest"

export const repoRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")
export const bin = Path.join(repoRoot, "packages/cli/dist/bin.js")
export const example = Path.join(repoRoot, "examples/quickstart")

/** Epochs for test copies: enough to train, small enough to keep the suite fast. */
export const TEST_EPOCHS = 300

const scratch: Array<string> = []
afterAll(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A fresh temporary folder, removed after the test file. */
export const tempDir = (): string => {
  const dir = mkdtempSync(Path.join(tmpdir(), "expops-cli-"))
  scratch.push(dir)
  return dir
}

/**
 * Makes `node_modules` of the repository visible from `dir`, so that a
 * project copied outside the repository imports `@expops/core` and `effect`.
 */
export const linkNodeModules = (dir: string): void => {
  symlinkSync(Path.join(repoRoot, "node_modules"), Path.join(dir, "node_modules"), "dir")
}

/** A copy of a project folder (default: the quick-start example) with fewer epochs. */
export const copyProject = (source = example): string => {
  const dir = Path.join(tempDir(), Path.basename(source))
  cpSync(source, dir, { recursive: true, filter: (src) => ![".expops", "node_modules"].includes(Path.basename(src)) })
  linkNodeModules(dir)
  if (source === example) editConfig(dir, /epochs: \d+/, `epochs: ${TEST_EPOCHS}`)
  return dir
}

export const configPath = (dir: string): string => Path.join(dir, "configs/project_config.yaml")

/** Replaces text in a project's config file; fails when the text is not there. */
export const editConfig = (dir: string, from: string | RegExp, to: string): void => editFile(configPath(dir), from, to)

export const editFile = (file: string, from: string | RegExp, to: string): void => {
  const text = readFileSync(file, "utf8")
  const next = text.replace(from, to)
  if (next === text) throw new Error(`${file}: ${String(from)} not found`)
  writeFileSync(file, next)
}

export interface Result {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface Options {
  /** The working directory the command is given (default: the repository root). */
  readonly cwd?: string
  /** Environment variables, over this process's, as the command reads them through `Config`. */
  readonly env?: Record<string, string>
  /** Whether stdout and stderr are terminals (default: neither, as in a pipe). */
  readonly terminal?: boolean
}

/**
 * The services `Cli.run` needs, writing standard output and error into
 * `out`: `Console` and `Stdio` both land there, in the order they were
 * written. The real file system; no child processes (the CLI starts none).
 */
export const layerCapture = (
  out: { readonly stdout: Array<string>; readonly stderr: Array<string> },
  options?: Options
): Layer.Layer<Cli.Environment> => {
  const decoder = new TextDecoder()
  const into = (chunks: Array<string>) => Sink.forEach((chunk: string | Uint8Array) => Effect.sync(() => void chunks.push(typeof chunk === "string" ? chunk : decoder.decode(chunk))))
  const terminal = options?.terminal ?? false
  // Writes land synchronously: a Writable calls `write` at once when nothing is pending.
  const writable = (chunks: Array<string>) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString())
        done()
      }
    })
  const console = new NodeConsole({ stdout: writable(out.stdout), stderr: writable(out.stderr), colorMode: false })
  const unused = Effect.die("not used by the CLI")
  return Layer.mergeAll(
    NodeFileSystem.layer,
    NodePath.layer,
    Layer.succeed(ChildProcessSpawner.ChildProcessSpawner, ChildProcessSpawner.make(() => unused)),
    Stdio.layerTest({
      args: Effect.succeed([]),
      stdout: () => into(out.stdout),
      stderr: () => into(out.stderr),
      stdin: Stream.empty,
      stdinIsTerminal: Effect.succeed(false),
      stdoutIsTerminal: Effect.succeed(terminal),
      stderrIsTerminal: Effect.succeed(terminal)
    }),
    Layer.succeed(
      Terminal.Terminal,
      Terminal.make({
        columns: Effect.succeed(terminal ? 100 : 0),
        rows: Effect.succeed(terminal ? 40 : 0),
        size: unused,
        readInput: unused,
        readLine: unused,
        display: (text) => Effect.sync(() => void out.stdout.push(text))
      })
    ),
    WorkingDirectory.layerAt(options?.cwd ?? repoRoot),
    // Colour only when a test asks for it, whatever the environment running the tests says.
    ConfigProvider.layer(ConfigProvider.fromEnv({ env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "", ...options?.env } })),
    Layer.succeed(Console.Console, console as unknown as Console.Console)
  )
}

/** Runs `expops ARGS` as a user would (not on a terminal), from `cwd`. */
export const cli = (args: ReadonlyArray<string>, options?: { readonly cwd?: string; readonly env?: Record<string, string> }): Result => {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: options?.cwd ?? repoRoot,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...options?.env },
    timeout: 60_000
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/**
 * Like `cli`, without blocking this process: for tests that serve something
 * (a fake GCS server) to the CLI from the test process itself.
 */
export const cliAsync = (args: ReadonlyArray<string>, options?: { readonly cwd?: string; readonly env?: Record<string, string> }): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options?.cwd ?? repoRoot,
      env: { ...process.env, NO_COLOR: "1", ...options?.env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })

/** `expops run DIR --json ARGS`; the run report parsed from stdout. */
export const run = (dir: string, ...args: Array<string>): Result & { readonly report: RunReport.RunReport } => {
  const result = cli(["run", dir, "--json", ...args])
  let report: RunReport.RunReport
  try {
    report = JSON.parse(result.stdout)
  } catch {
    throw new Error(`expops run ${dir} ${args.join(" ")} (exit ${result.status}) did not print a JSON report:\n${result.stdout}\n${result.stderr}`)
  }
  return { ...result, report }
}

/** Process name -> status. */
export const statuses = (report: RunReport.RunReport): Record<string, string> =>
  Object.fromEntries(report.processes.map((p) => [p.name, p.status]))

/** `process/step` -> status, for every step that ran. */
export const stepStatuses = (report: RunReport.RunReport): Record<string, string> =>
  Object.fromEntries(report.processes.flatMap((p) => p.steps.map((s) => [`${p.name}/${s.name}`, s.status])))

/** The steps that executed (not served from the cache), as `process/step`. */
export const executedSteps = (report: RunReport.RunReport): Array<string> =>
  report.processes.flatMap((p) => p.steps.filter((s) => s.status === "executed").map((s) => `${p.name}/${s.name}`))

/** Keys of the manifests the local backend holds for a project. */
export const manifestKeys = (dir: string): Array<string> => {
  const root = Path.join(dir, ".expops/cache/manifests")
  if (!existsSync(root)) return []
  return readdirSync(root).flatMap((shard) => readdirSync(Path.join(root, shard)).filter((f) => /^[0-9a-f]{64}$/.test(f))).sort()
}

/** Paths of the blobs the local backend holds for a project. */
export const blobFiles = (dir: string): Array<string> => {
  const root = Path.join(dir, ".expops/cache/blobs")
  if (!existsSync(root)) return []
  return readdirSync(root).flatMap((shard) =>
    readdirSync(Path.join(root, shard)).filter((f) => /^[0-9a-f]{64}$/.test(f)).map((f) => Path.join(root, shard, f))
  )
}

export const manifestFile = (dir: string, key: string): string => Path.join(dir, ".expops/cache/manifests", key.slice(0, 2), key)
