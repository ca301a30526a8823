/**
 * joblib, the cache ML users reach for in Python, driven from Node.
 *
 * `ensureJoblib` installs Debian's python3-joblib and python3-numpy with apt
 * when they are missing (the benchmark does this, never the tests);
 * `JoblibServer` runs bench/compare/joblib_server.py and sends it one command
 * per round, so joblib's rounds alternate with the Node contenders'.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { log } from "./alternate.ts"

export const PYTHON = "/usr/bin/python3"
const SERVER = path.join(import.meta.dirname, "joblib_server.py")

export type Availability = { readonly available: true } | { readonly available: false; readonly reason: string }

const hasJoblib = (): boolean =>
  existsSync(PYTHON) && spawnSync(PYTHON, ["-c", "import joblib, numpy"], { stdio: "ignore" }).status === 0

const run = (command: string, args: Array<string>): { ok: boolean; output: string } => {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    maxBuffer: 64 * 1024 * 1024
  })
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error?.message ?? ""}` }
}

/** Makes sure `/usr/bin/python3` can import joblib and numpy, installing them with apt if needed. */
export const ensureJoblib = (): Availability => {
  if (hasJoblib()) return { available: true }
  if (!existsSync(PYTHON)) return { available: false, reason: `${PYTHON} not found` }
  log("joblib or numpy missing: apt-get update && apt-get install -y python3-joblib python3-numpy")
  const asRoot = process.getuid?.() === 0
  const apt = (args: Array<string>) => (asRoot ? run("apt-get", args) : run("sudo", ["-n", "apt-get", ...args]))
  const update = apt(["update"])
  if (!update.ok) return { available: false, reason: `apt-get update failed: ${lastLine(update.output)}` }
  const install = apt(["install", "-y", "--no-install-recommends", "python3-joblib", "python3-numpy"])
  if (!install.ok) return { available: false, reason: `apt-get install failed: ${lastLine(install.output)}` }
  return hasJoblib() ? { available: true } : { available: false, reason: "installed, but python3 still cannot import joblib and numpy" }
}

const lastLine = (text: string): string => text.trim().split("\n").at(-1) ?? ""

/** One Python process answering commands in order. */
export class JoblibServer {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly pending: Array<{ resolve: (v: any) => void; reject: (e: Error) => void; cmd: string }> = []
  private stderr = ""

  constructor() {
    this.child = spawn(PYTHON, ["-u", SERVER], { stdio: ["pipe", "pipe", "pipe"] })
    this.child.stderr.on("data", (chunk) => {
      this.stderr = (this.stderr + String(chunk)).slice(-4000)
    })
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const waiter = this.pending.shift()
      if (waiter === undefined) return
      const answer = JSON.parse(line)
      if (answer.ok) waiter.resolve(answer)
      else waiter.reject(new Error(`joblib server, command ${waiter.cmd}: ${answer.error}`))
    })
    this.child.on("exit", (code) => {
      for (const waiter of this.pending.splice(0)) {
        waiter.reject(new Error(`joblib server exited (${code}) during ${waiter.cmd}: ${lastLine(this.stderr)}`))
      }
    })
  }

  send<A = Record<string, unknown>>(command: { readonly cmd: string; readonly [k: string]: unknown }): Promise<A> {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, cmd: command.cmd })
      this.child.stdin.write(`${JSON.stringify(command)}\n`)
    })
  }

  close(): void {
    if (this.child.exitCode === null) {
      this.child.stdin.end(`${JSON.stringify({ cmd: "quit" })}\n`)
    }
  }
}

/** joblib for a whole run: one server shared by the comparisons, or why there is none. */
export interface Joblib {
  readonly server: JoblibServer | undefined
  readonly versions: Record<string, string>
  readonly reason: string
}

export const start = async (): Promise<Joblib> => {
  const availability = ensureJoblib()
  if (!availability.available) return { server: undefined, versions: {}, reason: availability.reason }
  const server = new JoblibServer()
  const { ok: _ok, ...versions } = await server.send<Record<string, string>>({ cmd: "versions" })
  return { server, versions, reason: "" }
}
