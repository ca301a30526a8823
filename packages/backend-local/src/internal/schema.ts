/**
 * The tables of `.expops/expops.sqlite`. The cache tables are an index over
 * the cache files (rebuildable from them); the run tables are the only copy
 * of the run history.
 */
import type { DatabaseSync } from "node:sqlite"
import * as Schema from "effect/Schema"
import { transaction } from "./sqlite.ts"

// Bumped with every change below; `PRAGMA user_version` holds the applied one.
export { SCHEMA_VERSION } from "../SqliteRecords.ts"
import { SCHEMA_VERSION } from "../SqliteRecords.ts"

const V1 = `
CREATE TABLE IF NOT EXISTS cache_entries (
  key            TEXT PRIMARY KEY,
  kind           TEXT NOT NULL,
  name           TEXT NOT NULL,
  size           INTEGER NOT NULL,
  created_at     INTEGER NOT NULL,
  last_access_at INTEGER NOT NULL,
  duration_ms    REAL NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_entries_by_access ON cache_entries (last_access_at);
CREATE INDEX IF NOT EXISTS cache_entries_by_name ON cache_entries (name, kind);

CREATE TABLE IF NOT EXISTS cache_entry_blobs (
  key    TEXT NOT NULL,
  digest TEXT NOT NULL,
  size   INTEGER NOT NULL,
  PRIMARY KEY (key, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cache_entry_blobs_by_digest ON cache_entry_blobs (digest);

CREATE TABLE IF NOT EXISTS runs (
  id          TEXT PRIMARY KEY,
  pipeline    TEXT NOT NULL,
  status      TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  seed        NUMERIC NOT NULL,
  backend     TEXT NOT NULL,
  dry_run     INTEGER NOT NULL DEFAULT 0,
  report      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);

CREATE TABLE IF NOT EXISTS run_processes (
  run_id      TEXT NOT NULL,
  position    INTEGER NOT NULL,
  process     TEXT NOT NULL,
  status      TEXT NOT NULL,
  key         TEXT NOT NULL,
  duration_ms REAL NOT NULL,
  saved_ms    REAL,
  error       TEXT,
  PRIMARY KEY (run_id, position)
);
CREATE INDEX IF NOT EXISTS run_processes_by_name ON run_processes (process);
CREATE INDEX IF NOT EXISTS run_processes_by_key ON run_processes (key);

CREATE TABLE IF NOT EXISTS run_steps (
  run_id           TEXT NOT NULL,
  process_position INTEGER NOT NULL,
  position         INTEGER NOT NULL,
  process          TEXT NOT NULL,
  step             TEXT NOT NULL,
  status           TEXT NOT NULL,
  key              TEXT NOT NULL,
  duration_ms      REAL NOT NULL,
  error            TEXT,
  PRIMARY KEY (run_id, process_position, position)
);
CREATE INDEX IF NOT EXISTS run_steps_by_key ON run_steps (key);

CREATE TABLE IF NOT EXISTS run_metrics (
  run_id   TEXT NOT NULL,
  position INTEGER NOT NULL,
  process  TEXT NOT NULL,
  step     TEXT,
  name     TEXT NOT NULL,
  idx      REAL NOT NULL,
  value    REAL,
  PRIMARY KEY (run_id, position)
);
CREATE INDEX IF NOT EXISTS run_metrics_by_name ON run_metrics (name, process);
`

/**
 * Runs as they go (for \`expops ui\` in another process): the graph of each run
 * as it began, and a log of changes that readers follow by \`seq\`. A run's
 * progress rows are deleted when it is saved; its \`started\`/\`finished\` rows
 * and graph stay (a few hundred bytes a run).
 */
const V2 = `
CREATE TABLE IF NOT EXISTS run_graphs (
  run_id     TEXT PRIMARY KEY,
  started_at INTEGER NOT NULL,
  graph      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS run_changes (
  seq    INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  at     INTEGER NOT NULL,
  type   TEXT NOT NULL,
  data   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS run_changes_by_run ON run_changes (run_id, type);
`

/**
 * Reads of cache entries, appended as they happen (`SqliteRecords.recordReads`)
 * and folded into `cache_entries.last_access_at` in bulk. Updating that
 * column on every read dirtied one random page of `cache_entries` per key
 * (and one of the index on it, which no query used): 20-60 µs a key on a
 * store of 100,000 entries, against about 1 µs for an append.
 */
const V3 = `
CREATE TABLE IF NOT EXISTS cache_reads (
  key TEXT NOT NULL,
  at  INTEGER NOT NULL
);
DROP INDEX IF EXISTS cache_entries_by_access;
`

/** Thrown when the file was written by a newer version of this package. */
export class NewerSchemaError extends Schema.TaggedError<NewerSchemaError>()("NewerSchemaError", {
  /** The version the file says it has. */
  found: Schema.Number,
  /** The newest this package knows. */
  known: Schema.Number
}) {
  override get message(): string {
    return `it was written by a newer version of @expops/backend-local (schema ${this.found}, this one knows ${this.known})`
  }
}

/** Creates or upgrades the tables, in one transaction that other processes wait for. */
export const migrate = (db: DatabaseSync): void => {
  const current = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version
  if (current === SCHEMA_VERSION) return
  if (current > SCHEMA_VERSION) {
    throw new NewerSchemaError({ found: current, known: SCHEMA_VERSION })
  }
  transaction(db, () => {
    if (current < 1) db.exec(V1)
    db.exec(V2)
    db.exec(V3)
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)
  })
}
