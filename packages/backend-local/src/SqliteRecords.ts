/**
 * The writes to `.expops/expops.sqlite` that a run makes, as plain functions
 * over a `DatabaseSync`, with no `effect` import: the layers of this package
 * (`SqliteDatabase`, `SqliteRunStore`, `CacheIndex`) run them inside their
 * effects, and the CLI's replay of a cached run (answered before `effect`
 * loads) runs the same ones, so both record a run the same way. The log of
 * cache reads lives here too, with the SQL that reads it back
 * (`LAST_ACCESS`), so that its format is in one place.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { summarize } from "@expops/core/RunRecords"
import type { RunReport } from "@expops/core"
import { transaction } from "./internal/sqlite.ts"

/**
 * The version of the tables, bumped with every change to them; `PRAGMA
 * user_version` holds the applied one (see `internal/schema.ts`).
 *
 * @since 0.1.0
 */
export const SCHEMA_VERSION = 3

/** How long the progress rows of a finished run are kept (its report has the same, whole). */
const PROGRESS_KEPT_MS = 10 * 60_000

const SQLITE_BUSY = 5
const SQLITE_LOCKED = 6

/**
 * SQLite's extended result code of an error it threw, if it is one.
 *
 * @since 0.1.0
 */
export const errorCode = (error: unknown): number | undefined =>
  typeof error === "object" && error !== null && "errcode" in error ? Number((error as { errcode: unknown }).errcode) : undefined

/**
 * Another connection holds the lock the statement needed.
 *
 * @since 0.1.0
 */
export const isBusy = (error: unknown): boolean => {
  const code = errorCode(error)
  return code !== undefined && ((code & 0xff) === SQLITE_BUSY || (code & 0xff) === SQLITE_LOCKED)
}

/** `Atomics.wait` blocks this thread only: nothing else runs while a database is being opened. */
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/**
 * Opens the database at `file` in WAL mode with a busy timeout, then runs
 * `prepare` on it (migrations, or a check of the version), retrying while
 * another process holds it. Throws what SQLite throws.
 *
 * @since 0.1.0
 */
export const open = (file: string, busyTimeoutMs: number, prepare: (db: DatabaseSync) => void): DatabaseSync => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const deadline = Date.now() + busyTimeoutMs
  for (;;) {
    let db: DatabaseSync | undefined
    try {
      db = new DatabaseSync(file, { timeout: busyTimeoutMs })
      // The first statements read the header: a file that is not a database fails here, untouched.
      db.exec("PRAGMA journal_mode = WAL")
      // In WAL mode NORMAL loses at most the last transactions on power loss, never consistency.
      db.exec("PRAGMA synchronous = NORMAL")
      prepare(db)
      return db
    } catch (error) {
      db?.close()
      // Switching to WAL and creating tables can report busy without waiting on the busy handler.
      if (isBusy(error) && Date.now() < deadline) {
        sleepSync(10 + Math.random() * 20)
        continue
      }
      throw error
    }
  }
}

/**
 * The version of the tables in `db` (0 for a new file).
 *
 * @since 0.1.0
 */
export const schemaVersion = (db: DatabaseSync): number => (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version

/**
 * Saves a finished run: its row with the whole report (`reportJson`, the
 * report encoded by its schema), a row per process, step and metric, and the
 * `finished` change a live view waits for. Saving a run again (same id)
 * replaces it whole. One transaction.
 *
 * @since 0.1.0
 */
export const writeRun = (db: DatabaseSync, report: RunReport.RunReport, reportJson: string): void => {
  const { run } = report
  transaction(db, () => {
    for (const table of ["run_processes", "run_steps", "run_metrics"]) {
      db.prepare(`DELETE FROM ${table} WHERE run_id = ?`).run(run.id)
    }
    const endedAt = Math.round(run.startedAt + run.durationMs)
    db.prepare(
      `INSERT OR REPLACE INTO runs (id, pipeline, status, started_at, ended_at, duration_ms, seed, backend, dry_run, report)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
    ).run(run.id, run.pipeline, run.status, run.startedAt, endedAt, run.durationMs, run.seed, run.backend, run.dryRun === true ? 1 : 0, reportJson)
    const process = db.prepare(
      `INSERT INTO run_processes (run_id, position, process, status, key, duration_ms, saved_ms, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
    )
    const step = db.prepare(
      `INSERT INTO run_steps (run_id, process_position, position, process, step, status, key, duration_ms, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
    )
    report.processes.forEach((p, i) => {
      process.run(run.id, i, p.name, p.status, p.key, p.durationMs, p.savedMs ?? null, p.error ?? null)
      p.steps.forEach((s, j) => step.run(run.id, i, j, p.name, s.name, s.status, s.key, s.durationMs, s.error ?? null))
    })
    const metric = db.prepare(`INSERT INTO run_metrics (run_id, position, process, step, name, idx, value) VALUES (?, ?, ?, ?, ?, ?, ?)`)
    // A NaN value becomes NULL in its row (SQLite has no NaN); the report keeps it.
    ;(report.metrics ?? []).forEach((m, i) => metric.run(run.id, i, m.process, m.step ?? null, m.name, m.index, m.value))
    // One row says it finished. Its progress rows stay a while for readers that poll slower than
    // a short run lasts; those of runs that ended long ago go (their reports hold it all).
    db.prepare(`DELETE FROM run_changes WHERE type = 'progress' AND run_id IN (SELECT id FROM runs WHERE ended_at < ? AND id != ?)`)
      .run(endedAt - PROGRESS_KEPT_MS, run.id)
    db.prepare("INSERT INTO run_changes (run_id, at, type, data) VALUES (?, ?, ?, ?)")
      .run(run.id, endedAt, "finished", JSON.stringify(summarize(report)))
  })
}

/**
 * How many reads the log holds before they are folded into
 * `cache_entries.last_access_at`: bounds the log (a few MiB) and what
 * `LAST_READS_JOIN` groups.
 *
 * @since 0.1.0
 */
export const FOLD_READS_AT = 50_000

/**
 * Records reads of cache entries in the index (`key` -> when it was read),
 * for least-recently-used pruning: appended to the log of reads, which is
 * folded into the entries' rows once it holds `foldAt` reads. One
 * transaction.
 *
 * @since 0.1.0
 */
export const recordReads = (
  db: DatabaseSync,
  reads: Iterable<readonly [key: string, at: number]>,
  foldAt: number = FOLD_READS_AT
): void =>
  transaction(db, () => {
    const append = db.prepare("INSERT INTO cache_reads (key, at) VALUES (?, ?)")
    for (const [key, at] of reads) append.run(key, at)
    // Rowids count up from 1 after the log is emptied: the last one is about its length.
    const last = db.prepare("SELECT max(rowid) AS n FROM cache_reads").get() as { n: number | null }
    if ((last.n ?? 0) >= foldAt) foldReadsIn(db)
  })

/**
 * Folds the log of reads into `cache_entries.last_access_at` and empties it,
 * inside the caller's transaction. Reads of entries that are gone are dropped.
 *
 * @since 0.1.0
 */
export const foldReadsIn = (db: DatabaseSync): void => {
  db.exec(`UPDATE cache_entries SET last_access_at = reads.at
           FROM (SELECT key, max(at) AS at FROM cache_reads GROUP BY key) AS reads
           WHERE cache_entries.key = reads.key AND reads.at > cache_entries.last_access_at;
           DELETE FROM cache_reads;`)
}

/**
 * The SQL of an entry's last access: its row's, or a later read still in
 * the log. For a query over `cache_entries` (as `cache_entries`) joined with
 * `LAST_READS_JOIN`.
 *
 * @since 0.1.0
 */
export const LAST_ACCESS = "max(cache_entries.last_access_at, coalesce(last_reads.at, 0))"

/**
 * The join that `LAST_ACCESS` reads from.
 *
 * @since 0.1.0
 */
export const LAST_READS_JOIN = "LEFT JOIN (SELECT key, max(at) AS at FROM cache_reads GROUP BY key) AS last_reads ON last_reads.key = cache_entries.key"
