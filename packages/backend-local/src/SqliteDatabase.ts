/**
 * The project's SQLite file, `.expops/expops.sqlite`: the cache index and the
 * run history. Opened once per layer, in WAL mode with a busy timeout, so
 * several OS processes can use it at once: readers never wait for the writer,
 * and writers queue for up to `busyTimeoutMs` instead of failing.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describe } from "./internal/files.ts"
import { migrate } from "./internal/schema.ts"
import { LocalBackendError } from "./LocalBackendError.ts"

/**
 * @since 0.1.0
 */
export interface Shape {
  /** Absolute path of the database file. */
  readonly path: string
  readonly db: DatabaseSync
}

/**
 * @since 0.1.0
 */
export class SqliteDatabase extends Context.Service<SqliteDatabase, Shape>()("expops/backend-local/SqliteDatabase") {}

/**
 * @since 0.1.0
 */
export interface Options {
  /** How long a writer waits for another process's transaction. Default 10 s. */
  readonly busyTimeoutMs?: number | undefined
}

const SQLITE_BUSY = 5
const SQLITE_LOCKED = 6
const SQLITE_NOTADB = 26
const SQLITE_CORRUPT = 11

const sqliteCode = (error: unknown): number | undefined =>
  typeof error === "object" && error !== null && "errcode" in error ? Number((error as { errcode: unknown }).errcode) : undefined

/** Busy while another process creates the tables or switches to WAL: worth waiting for. */
export const isBusy = (error: unknown): boolean => {
  const code = sqliteCode(error)
  return code !== undefined && ((code & 0xff) === SQLITE_BUSY || (code & 0xff) === SQLITE_LOCKED)
}

/** A cause in plain words, with advice where there is an obvious fix. */
export const explain = (error: unknown): string => {
  const code = sqliteCode(error)
  if (code !== undefined && ((code & 0xff) === SQLITE_NOTADB || (code & 0xff) === SQLITE_CORRUPT)) {
    return "the file is not an SQLite database (or is damaged). It holds the run history and the cache index; " +
      "move it aside and a fresh one is created (the cache entries themselves are files and are kept)"
  }
  return describe(error)
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

const openSync = (file: string, busyTimeoutMs: number): DatabaseSync => {
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
      migrate(db)
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
 * Opens (creating it if needed) the database at `file`, migrating its tables;
 * closes it when the layer's scope closes.
 *
 * @since 0.1.0
 */
export const layer = (file: string, options?: Options): Layer.Layer<SqliteDatabase, LocalBackendError> =>
  Layer.effect(
    SqliteDatabase,
    Effect.acquireRelease(
      Effect.try({
        try: () => SqliteDatabase.of({ path: path.resolve(file), db: openSync(path.resolve(file), options?.busyTimeoutMs ?? 10_000) }),
        catch: (error) =>
          new LocalBackendError({ operation: "open the SQLite database", path: path.resolve(file), reason: explain(error), cause: error })
      }),
      ({ db }) => Effect.sync(() => db.isOpen && db.close())
    )
  )
