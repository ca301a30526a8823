/**
 * What the figures were measured on, and an up-to-date `dist/` to measure.
 */
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { log } from "./alternate.ts"

export interface Machine {
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryGiB: number
  readonly node: string
  readonly platform: string
  /** 1-minute load average when the run started and ended: how busy the shared machine was. */
  readonly loadAverage: { readonly start: number; readonly end?: number }
}

const cpuModel = (): string => {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("model name"))
    return line?.split(":")[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown"
  } catch {
    return os.cpus()[0]?.model ?? "unknown"
  }
}

export const describe = (): Machine => ({
  cpus: os.availableParallelism(),
  cpuModel: cpuModel(),
  memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
  node: process.version,
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  loadAverage: { start: Math.round(os.loadavg()[0]! * 100) / 100 }
})

/**
 * Brings `dist/` up to date (`tsc -b tsconfig.build.json`, the root `build`
 * script; incremental, a second or two when nothing changed), so the figures
 * are those of the current code: plain Node runs the packages from `dist/`.
 * Answers a note when the build failed.
 */
export const ensureBuilt = (root: string): string | undefined => {
  log("building dist/ (tsc -b tsconfig.build.json)")
  const result = spawnSync(path.join(root, "node_modules", ".bin", "tsc"), ["-b", "tsconfig.build.json"], { cwd: root, encoding: "utf8" })
  if (result.status === 0) return undefined
  const first = `${result.stdout}${result.stderr}${result.error?.message ?? ""}`.trim().split("\n").slice(0, 3).join(" | ")
  return `the build (tsc -b tsconfig.build.json) failed, so some figures may be of older code: ${first}`
}
