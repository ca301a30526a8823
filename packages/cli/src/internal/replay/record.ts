/**
 * Writes the receipt of a fully cached run (see `receipt.ts`), from what
 * the watch saw (`watch.ts`) and the manifests the run read, so that the
 * next identical `expops run` is answered by `replay.ts`.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { LocalBackend, LocalCacheStore } from "@expops/backend-local"
import type { CacheStore, Fanout, RunReport } from "@expops/core"
import { isDeepStrictEqual } from "node:util"
import * as Receipt from "./receipt.ts"
import * as Watch from "./watch.ts"

export interface Run {
  readonly projectDir: string
  readonly report: RunReport.RunReport
  /** The report as its schema encodes it for the run store. */
  readonly encoded: unknown
  /** The processes in progress order, and each branch's base. */
  readonly order: ReadonlyArray<string>
  readonly bases: Readonly<Record<string, string>>
  readonly layers: ReadonlyArray<Fanout.Layer>
  /** What the run read from the cache store (see `observe`). */
  readonly reads: Reads
}

/** What a run read from the cache store: the keys of the manifests, and whether any blob. */
export interface Reads {
  readonly keys: Set<string>
  blobs: boolean
}

/** Nothing read yet. */
export const noReads = (): Reads => ({ keys: new Set(), blobs: false })

/**
 * A cache store whose reads are noted in `reads`: the manifests a replay
 * must find unchanged, and whether the run read blobs (which a replay does
 * not check: such a run leaves no receipt).
 */
export const observe = (store: CacheStore.Shape, reads: Reads): CacheStore.Shape => {
  const getBlobHashed = store.getBlobHashed
  return {
    ...store,
    getManifest: (key) => {
      reads.keys.add(key)
      return store.getManifest(key)
    },
    getBlob: (digest) => {
      reads.blobs = true
      return store.getBlob(digest)
    },
    getBlobHashed: getBlobHashed === undefined ? undefined : (digest) => {
      reads.blobs = true
      return getBlobHashed(digest)
    }
  }
}

/**
 * Gives up the receipt of this run (something computes): the watch stops
 * noting, so that a body reading many files pays nothing for it.
 */
export const abandon = (): void => Watch.abandon()

/** Whether runs of this process can leave receipts: started by `bin.ts`, and not turned off. */
export const enabled = (): boolean => Watch.isInstalled() && process.env.EXPOPS_REPLAY !== "0"

/** Every path the run depended on, with its state when first seen; the project's `.expops` is its own state. */
const dependencies = (projectDir: string): Array<readonly [string, string]> => {
  const own = Path.join(projectDir, ".expops")
  return Watch.entries().filter(([path]) => path !== own && !path.startsWith(own + Path.sep))
}

/**
 * Removes the receipt of this invocation and environment, after a run that
 * could not leave one: it no longer describes the last run.
 */
export const discard = (projectDir: string): void => {
  rmSync(Receipt.location(projectDir, Receipt.invocation(Watch.startedIn(), Watch.args()), Receipt.environment(process.env)), { force: true })
}

/** Keeps the newest `Receipt.KEPT` receipts in `dir`, a project's receipts folder; leaves other files alone. */
export const prune = (dir: string): void => {
  const receipts = readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .map((name) => ({ file: Path.join(dir, name), at: statSync(Path.join(dir, name)).mtimeMs }))
    .sort((a, b) => b.at - a.at)
  for (const { file } of receipts.slice(Receipt.KEPT)) rmSync(file, { force: true })
}

/**
 * Writes the receipt of `run`, replacing the one of the same invocation and
 * environment; `false` when the run cannot be replayed (it read blobs, it
 * listed a folder recursively, or its report is encoded otherwise than as
 * plain JSON).
 */
export const write = (run: Run): boolean => {
  try {
    return writeReceipt(run)
  } catch {
    // A path that could not be looked at: no receipt, and the next run takes the full path.
    return false
  }
}

const writeReceipt = (run: Run): boolean => {
  if (run.reads.blobs || !Watch.isComplete()) return false
  // The replay stores the report as JSON and prints it as JSON: both must be the same document.
  if (!isDeepStrictEqual(run.encoded, JSON.parse(JSON.stringify(run.report)))) return false
  const { cache, database } = LocalBackend.paths(run.projectDir)
  const manifests: Array<readonly [string, string, string, number, number, number]> = []
  const locations = LocalCacheStore.manifestLocations(cache, run.reads.keys)
  for (const key of run.reads.keys) {
    const location = locations.get(key)
    if (location === undefined) return false
    const { file, offset, length, fileSize } = location
    const digest = Receipt.digestOf(file, offset, length, fileSize)
    if (digest === undefined) return false
    manifests.push([file, digest, key, offset, length, fileSize])
  }
  const receipt: Receipt.Receipt = {
    version: Receipt.VERSION,
    invocation: Receipt.invocation(Watch.startedIn(), Watch.args()),
    environment: Receipt.environment(process.env),
    paths: dependencies(run.projectDir),
    manifests,
    database,
    order: run.order,
    bases: run.bases,
    layers: run.layers,
    report: run.encoded
  }
  const file = Receipt.location(run.projectDir, receipt.invocation, receipt.environment)
  try {
    mkdirSync(Path.dirname(file), { recursive: true })
    const temp = `${file}.${process.pid}.tmp`
    writeFileSync(temp, JSON.stringify(receipt))
    renameSync(temp, file)
    prune(Path.dirname(file))
    return true
  } catch {
    // A receipt that cannot be written costs the next run its speed, nothing else.
    return false
  }
}
