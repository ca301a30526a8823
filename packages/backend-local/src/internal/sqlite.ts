/**
 * SQLite helpers shared by the index, the run store and the migrations.
 */
import type { DatabaseSync } from "node:sqlite"

/**
 * Runs `body` in an immediate transaction: other processes' writers wait for
 * it (busy timeout) instead of interleaving. Rolls back if `body` throws,
 * and rethrows.
 */
export const transaction = <A>(db: DatabaseSync, body: () => A): A => {
  db.exec("BEGIN IMMEDIATE")
  try {
    const result = body()
    db.exec("COMMIT")
    return result
  } catch (cause) {
    if (db.isTransaction) db.exec("ROLLBACK")
    throw cause
  }
}
