import { assert, describe, it } from "@effect/vitest"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { readTransaction, transaction } from "../../src/internal/sqlite.ts"
import { tmpDir } from "../fixtures/tmp.ts"

// Two connections to one WAL database, as `expops run` and `expops ui` have; no busy wait, so a lock shows at once.
const connections = () => {
  const file = path.join(tmpDir(), "db.sqlite")
  const db = new DatabaseSync(file, { timeout: 0 })
  db.exec("PRAGMA journal_mode = WAL")
  db.exec("CREATE TABLE t (n INTEGER)")
  db.exec("INSERT INTO t VALUES (1)")
  return { db, other: new DatabaseSync(file, { timeout: 0 }) }
}
const count = (db: DatabaseSync) => (db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n

describe("sqlite", () => {
  it("readTransaction reads one snapshot and lets another connection write meanwhile", () => {
    const { db, other } = connections()
    const seen = readTransaction(db, () => {
      const before = count(db)
      transaction(other, () => other.exec("INSERT INTO t VALUES (2)"))
      return [before, count(db)]
    })
    assert.deepStrictEqual(seen, [1, 1])
    assert.isFalse(db.isTransaction)
    assert.strictEqual(count(db), 2)
  })

  it("transaction holds the write lock: another connection's writer is refused while it runs", () => {
    const { db, other } = connections()
    transaction(db, () => {
      assert.throws(() => other.exec("BEGIN IMMEDIATE"), /locked|busy/i)
    })
    assert.isFalse(other.isTransaction)
  })

  it("both roll back and rethrow when the body throws", () => {
    const { db } = connections()
    for (const run of [transaction, readTransaction]) {
      assert.throws(() =>
        run(db, () => {
          db.exec("INSERT INTO t VALUES (3)")
          throw new Error("boom")
        }), "boom")
      assert.isFalse(db.isTransaction)
      assert.strictEqual(count(db), 1)
    }
  })
})
