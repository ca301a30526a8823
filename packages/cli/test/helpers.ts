/**
 * Helpers for the CLI tests, which run commands on temporary copies of the
 * quick-start example.
 *
 * `cli` runs a command in this process through `Cli.run`, with its standard
 * output and error captured, its working directory and environment given,
 * and answers the exit code as a value. `spawnCli` runs the real executable
 * (packages/cli/dist/bin.js) under Node, for the few tests about the process
 * itself (exit status, signals, start-up, the process's working directory).
 */
import { spawn, spawnSync } from "node:child_process"
import { Console as NodeConsole } from "node:console"
import { copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Cli, WorkingDirectory } from "@expops/cli"
import type { RunReport } from "@expops/core"
import { ConfigProvider, Console, Effect, Layer, Sink, Stdio, Stream, Terminal } from "effect"
import { ChildProcessSpawner } from "effect/process"
import { afterAll, assert, onTestFinished } from "vitest"

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

/**
 * A copy of a project folder (default: the quick-start example) with fewer
 * epochs, seeing the repository's `node_modules` unless `linked` is false
 * (then it is a project of its own, anywhere on disk, with no packages).
 */
export const copyProject = (source = example, options?: { readonly linked?: boolean }): string => {
  const dir = Path.join(tempDir(), Path.basename(source))
  cpSync(source, dir, { recursive: true, filter: (src) => ![".expops", "node_modules"].includes(Path.basename(src)) })
  if (options?.linked !== false) linkNodeModules(dir)
  if (source === example) editConfig(dir, /epochs: \d+/, `epochs: ${TEST_EPOCHS}`)
  return dir
}

/**
 * A copy of a folder made of hard links (a copy of its own to Node, which
 * keys modules by path, at no cost in bytes); plain copies across file systems.
 */
export const hardLinkTree = (from: string, to: string): void => {
  mkdirSync(to, { recursive: true })
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = Path.join(from, entry.name)
    const target = Path.join(to, entry.name)
    if (entry.isDirectory()) hardLinkTree(source, target)
    else {
      try {
        linkSync(source, target)
      } catch {
        copyFileSync(source, target)
      }
    }
  }
}

export const fanoutExample = Path.join(repoRoot, "examples/fanout")

/**
 * A copy of the fan-out example with fewer epochs. It imports the quick
 * start's modules from `../quickstart/src/`, so both are copied, side by side.
 */
export const copyFanout = (): string => {
  const examples = Path.join(tempDir(), "examples")
  for (const source of [example, fanoutExample]) {
    cpSync(source, Path.join(examples, Path.basename(source)), {
      recursive: true,
      filter: (src) => ![".expops", "node_modules"].includes(Path.basename(src))
    })
  }
  linkNodeModules(Path.dirname(examples))
  const dir = Path.join(examples, "fanout")
  editConfig(dir, /epochs: \d+/, `epochs: ${TEST_EPOCHS}`)
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
  /** Whether stdin, stdout and stderr are terminals (default: none, as in a pipe). */
  readonly terminal?: boolean
  /** The lines typed on the terminal, answering what the command asks, in order. */
  readonly input?: ReadonlyArray<string>
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
  const typed = [...(options?.input ?? [])]
  return Layer.mergeAll(
    NodeFileSystem.layer,
    NodePath.layer,
    Layer.succeed(ChildProcessSpawner.ChildProcessSpawner, ChildProcessSpawner.make(() => unused)),
    Stdio.layerTest({
      args: Effect.succeed([]),
      stdout: () => into(out.stdout),
      stderr: () => into(out.stderr),
      stdin: Stream.empty,
      stdinIsTerminal: Effect.succeed(terminal),
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
        readLine: Effect.suspend(() => (typed.length > 0 ? Effect.succeed(typed.shift()!) : Effect.die("the command asked for more input than the test typed"))),
        display: (text) => Effect.sync(() => void out.stdout.push(text))
      })
    ),
    WorkingDirectory.layerAt(options?.cwd ?? repoRoot),
    // Colour only when a test asks for it, whatever the environment running the tests says.
    ConfigProvider.layer(ConfigProvider.fromEnv({ env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "", ...options?.env } })),
    Layer.succeed(Console.Console, console as unknown as Console.Console)
  )
}

/** Runs `expops ARGS` in this process, from `cwd`, not on a terminal unless asked. */
export const cli = (args: ReadonlyArray<string>, options?: Options): Effect.Effect<Result> =>
  Effect.suspend(() => {
    const out = { stdout: [] as Array<string>, stderr: [] as Array<string> }
    return Cli.run(args).pipe(
      Effect.provide(layerCapture(out, options)),
      Effect.map((status) => ({ status, stdout: out.stdout.join(""), stderr: out.stderr.join("") }))
    )
  })

/** Parses a command's JSON output, or says what it printed instead. */
const parse = <A>(what: string, result: Result): A => {
  try {
    return JSON.parse(result.stdout)
  } catch {
    throw new Error(`${what} (exit ${result.status}) did not print JSON:\n${result.stdout}\n${result.stderr}`)
  }
}

/** `expops run DIR --json ARGS`; the run report parsed from stdout. */
export const run = (dir: string, ...args: Array<string>): Effect.Effect<Result & { readonly report: RunReport.RunReport }> =>
  Effect.map(cli(["run", dir, "--json", ...args]), (result) => ({ ...result, report: parse(`expops run ${dir} ${args.join(" ")}`, result) }))

/** `expops ARGS --json`, checking the exit code; the document parsed from stdout. */
export const json = <A = any>(args: ReadonlyArray<string>, status = 0, options?: Options): Effect.Effect<A> =>
  Effect.map(cli([...args, "--json"], options), (result) => {
    assert.strictEqual(result.status, status, `${args.join(" ")}: ${result.stderr}`)
    return parse<A>(`expops ${args.join(" ")}`, result)
  })

/**
 * Runs the real `expops` executable under Node, from `cwd` (not on a
 * terminal), without blocking this process: a test may serve something to
 * it, or signal it.
 */
export const spawnCli = (
  args: ReadonlyArray<string>,
  options?: { readonly cwd?: string; readonly env?: Record<string, string>; readonly onStderr?: (text: string, child: ReturnType<typeof spawn>) => void }
): Promise<Result & { readonly signal: NodeJS.Signals | null }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options?.cwd ?? repoRoot,
      env: { ...process.env, NO_COLOR: "1", ...options?.env }
    })
    // A test that ends (passed, failed or timed out) leaves no run of its own behind: one that holds a lease forever would.
    try {
      onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")))
    } catch {
      // Spawned outside a test (a suite's set-up): its own teardown ends it.
    }
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => {
      stderr += chunk
      options?.onStderr?.(stderr, child)
    })
    child.on("error", reject)
    child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }))
  })

/** `spawnCli`, blocking: for start-up checks that need nothing from this process. */
export const spawnCliSync = (args: ReadonlyArray<string>, options?: { readonly cwd?: string }): Result => {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: options?.cwd ?? repoRoot,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 60_000
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
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
