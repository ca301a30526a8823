/**
 * The project's SQLite file, `.expops/expops.sqlite`: the cache index and the
 * run history. Opened once per layer, in WAL mode with a busy timeout, so
 * several OS processes can use it at once: readers never wait for the writer,
 * and writers queue for up to `busyTimeoutMs` instead of failing.
 *
 * @since 0.1.0
 */
import * as path from "node:path"
import type { DatabaseSync } from "node:sqlite"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describe } from "./internal/files.ts"
import { migrate } from "./internal/schema.ts"
import { LocalBackendError } from "./LocalBackendError.ts"
import * as SqliteRecords from "./SqliteRecords.ts"

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

const SQLITE_NOTADB = 26
const SQLITE_CORRUPT = 11

/**
 * @since 0.1.0
 */
export const isBusy: (error: unknown) => boolean = SqliteRecords.isBusy

/** A cause in plain words, with advice where there is an obvious fix. */
export const explain = (error: unknown): string => {
  const code = SqliteRecords.errorCode(error)
  if (code !== undefined && ((code & 0xff) === SQLITE_NOTADB || (code & 0xff) === SQLITE_CORRUPT)) {
    return "the file is not an SQLite database (or is damaged). It holds the run history and the cache index; " +
      "move it aside and a fresh one is created (the cache entries themselves are files and are kept)"
  }
  return describe(error)
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
        try: () => SqliteDatabase.of({ path: path.resolve(file), db: SqliteRecords.open(path.resolve(file), options?.busyTimeoutMs ?? 10_000, migrate) }),
        catch: (error) =>
          new LocalBackendError({ operation: "open the SQLite database", path: path.resolve(file), reason: explain(error), cause: error })
      }),
      ({ db }) => Effect.sync(() => db.isOpen && db.close())
    )
  )
