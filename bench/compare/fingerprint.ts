/**
 * What code fingerprints cost at start-up: every step and process of the
 * quick start fingerprinted while its modules load, in a fresh Node process
 * each time, as `expops run` does it.
 *
 * - cold: no index under .expops/, so every source file is parsed (and the
 *   parser loaded);
 * - warm: the index written by the cold run, nothing changed: no parsing;
 * - one file edited: the index serves the others.
 *
 * The time is what `CodeFingerprint.stats()` counts inside Step.make and
 * Process.make (locating bodies, parsing, analysing, closures), not module
 * loading, which Node does whether or not anything is fingerprinted.
 */
import { execFileSync } from "node:child_process"
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { log } from "./alternate.ts"

export interface FingerprintResult {
  readonly unit: "ms"
  readonly definitions: number
  readonly files: number
  readonly cold: number
  readonly warm: number
  readonly oneFileEdited: number
  readonly samples: number
}

// Before the pipeline loads, the CLI has already read its config, hashed the
// data file and resolved paths: Node's fs, crypto and path are warm, as here.
const child = `
const { CodeFingerprint } = await import("@expops/core")
const { createHash } = await import("node:crypto")
const { readFileSync, realpathSync } = await import("node:fs")
const [dir, main] = process.argv.slice(1)
createHash("sha256").update(readFileSync(dir + "/configs/project_config.yaml")).digest("hex")
realpathSync(dir)
CodeFingerprint.configure({ root: dir, indexFile: dir + "/.expops/code-index.json" })
CodeFingerprint.recordLoadedSources()
await import(main)
CodeFingerprint.flush()
process.stdout.write(JSON.stringify(CodeFingerprint.stats()))
`

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export const run = async (options: { readonly quick: boolean; readonly workDir: string }): Promise<FingerprintResult> => {
  const root = path.resolve(import.meta.dirname, "..", "..")
  // Inside the checkout, so the copy resolves @expops/core and effect as the quick start does.
  const dir = path.join(root, "examples", ".bench-fingerprint")
  rmSync(dir, { recursive: true, force: true })
  cpSync(path.join(root, "examples", "quickstart"), dir, { recursive: true })
  rmSync(path.join(dir, ".expops"), { recursive: true, force: true })
  const main = path.join(dir, "src", "pipeline.ts")
  const once = () => JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", child, dir, main], { cwd: dir, encoding: "utf8" })) as {
    definitions: number
    ms: number
    files: number
  }
  const samples = options.quick ? 3 : 9
  const index = path.join(dir, ".expops", "code-index.json")
  try {
    log(`fingerprint: ${samples} fresh processes each, cold / warm / one file edited`)
    const cold: Array<number> = []
    const warm: Array<number> = []
    const edited: Array<number> = []
    let last = { definitions: 0, ms: 0, files: 0 }
    const train = path.join(dir, "src", "train.ts")
    const original = readFileSync(train, "utf8")
    for (let i = 0; i < samples; i++) {
      rmSync(index, { force: true })
      cold.push(once().ms)
      last = once()
      warm.push(last.ms)
      writeFileSync(train, `${original}\n// edit ${i}\n`)
      edited.push(once().ms)
      writeFileSync(train, original)
      once()
    }
    return {
      unit: "ms",
      definitions: last.definitions,
      files: last.files,
      cold: median(cold),
      warm: median(warm),
      oneFileEdited: median(edited),
      samples
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
