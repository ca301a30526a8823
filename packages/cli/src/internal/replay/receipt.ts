/**
 * The receipt of a fully cached run: what it depended on and what it
 * reported, kept in `.expops/replay/` (one per invocation and environment,
 * the last `KEPT`) so that the next identical `expops run` can be answered
 * without loading the project or `effect` (see `replay.ts`).
 *
 * A receipt holds while everything it lists is as it was:
 *
 * - the invocation: the same arguments (but `--json`), from the same folder;
 * - the environment: every variable (but the shell's own bookkeeping: `_`,
 *   `PWD`, `OLDPWD`, `SHLVL`; and `EXPOPS_REPLAY`), Node's version,
 *   executable and options;
 * - every path the run looked at (`Watch`): a file by its size, mtime,
 *   ctime and inode; a listed folder likewise; a probed folder by being one;
 *   an absent path by being absent; a package folder (or a relative import that
 *   led elsewhere) by where its links lead;
 * - every cache manifest the run read, byte for byte (SHA-256), and the
 *   tables of the SQLite file at the version this CLI writes.
 *
 * Then the keys, the entries served and the report would all be the same,
 * because each is computed from those inputs alone. No `effect` import here.
 */
import { hash } from "node:crypto"
import { closeSync, fstatSync, openSync, readSync } from "node:fs"
import * as Path from "node:path"
import type { Fanout } from "@expops/core"

/** Bumped when what a receipt holds or means changes: an older receipt is ignored. */
export const VERSION = 3

/** How many receipts a project keeps (one per invocation and environment); past it, the oldest go. */
export const KEPT = 16

/**
 * Variables a shell changes between commands without changing what a
 * command does, and the one that only says whether to replay.
 */
const IGNORED = new Set(["_", "PWD", "OLDPWD", "SHLVL", "EXPOPS_REPLAY"])

/**
 * @since 0.1.0
 */
export interface Receipt {
  readonly version: typeof VERSION
  /** The working folder and the arguments of the run, `--json` left out. */
  readonly invocation: string
  /** A digest of the environment and of Node (see `environment`). */
  readonly environment: string
  /** Path -> its state when the run first looked at it (see `State.recorded`). */
  readonly paths: ReadonlyArray<readonly [path: string, state: string]>
  /**
   * The cache manifests the run read: where each is stored (a file of its
   * own, or a record in a pack: `length` bytes at `offset` of `file`, a file
   * of `fileSize` bytes), the SHA-256 of those bytes, and its key (noted as
   * read again in the index).
   */
  readonly manifests: ReadonlyArray<
    readonly [file: string, digest: string, key: string, offset: number, length: number, fileSize: number]
  >
  /** The project's SQLite file (runs and the cache index). */
  readonly database: string
  /** The processes in the order progress shows them, and each branch's base process. */
  readonly order: ReadonlyArray<string>
  readonly bases: Readonly<Record<string, string>>
  /** The plan's fan-out layers, for the summary. */
  readonly layers: ReadonlyArray<Fanout.Layer>
  /** The run's report as its schema encodes it (plain JSON); a replay fills in its own id, times and durations. */
  readonly report: unknown
}

/** The invocation as the receipt keeps it: `--json` changes only where the report goes. */
export const invocation = (cwd: string, args: ReadonlyArray<string>): string =>
  JSON.stringify([cwd, args.filter((arg) => arg !== "--json")])

/** A digest of what, besides files, could change what a run does. */
export const environment = (env: NodeJS.ProcessEnv): string => {
  const entries = Object.entries(env).filter(([name]) => !IGNORED.has(name)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return hash("sha256", JSON.stringify([process.version, process.execPath, process.execArgv, process.arch, process.platform, entries]), "hex")
}

/**
 * The SHA-256 of `length` bytes at `offset` of `file`, or `undefined` when
 * they cannot be read, or `file` is not `fileSize` bytes long (a manifest
 * file and a pack never change size: one that did is not what was read).
 */
export const digestOf = (file: string, offset: number, length: number, fileSize: number): string | undefined => {
  let fd: number | undefined
  try {
    fd = openSync(file, "r")
    if (fstatSync(fd).size !== fileSize) return undefined
    const bytes = Buffer.allocUnsafe(length)
    let read = 0
    while (read < length) {
      const n = readSync(fd, bytes, read, length - read, offset + read)
      if (n === 0) return undefined
      read += n
    }
    return hash("sha256", bytes, "hex")
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** The folder of a project's receipts, `.expops/replay/`. */
export const folder = (projectDir: string): string => Path.join(projectDir, ".expops", "replay")

/**
 * Where the receipt of a run with this invocation and environment lives:
 * one file per pair, so that runs with other seeds or settings keep theirs.
 */
export const location = (projectDir: string, invocation: string, environment: string): string =>
  Path.join(folder(projectDir), `${hash("sha256", `${invocation}\0${environment}`, "hex").slice(0, 32)}.json`)
