/**
 * SQLite helpers shared by the index, the run store and the migrations.
 */
import type { DatabaseSync } from "node:sqlite"

/** Runs `body` between `begin` and `COMMIT`; rolls back if `body` (or the commit) throws, and rethrows. */
const within = <A>(db: DatabaseSync, begin: string, body: () => A): A => {
  db.exec(begin)
  try {
    const result = body()
    db.exec("COMMIT")
    return result
  } catch (cause) {
    if (db.isTransaction) db.exec("ROLLBACK")
    throw cause
  }
}

/**
 * Runs `body` in an immediate transaction: other processes' writers wait for
 * it (busy timeout) instead of interleaving. Rolls back if `body` throws,
 * and rethrows.
 */
export const transaction = <A>(db: DatabaseSync, body: () => A): A => within(db, "BEGIN IMMEDIATE", body)

/**
 * Runs the reads in `body` on one snapshot of the database, in a deferred
 * transaction. Unlike `transaction` it takes no write lock: in WAL mode a
 * reader (`expops ui` following a run) neither waits for a process that is
 * writing nor holds up its writes.
 */
export const readTransaction = <A>(db: DatabaseSync, body: () => A): A => within(db, "BEGIN", body)
