import { assert, describe, it } from "@effect/vitest"
import * as path from "node:path"
import type { DatabaseSync } from "node:sqlite"
import * as SqliteRecords from "@expops/backend-local/SqliteRecords"
import { migrate } from "../src/internal/schema.ts"
import { tmpDir } from "./fixtures/tmp.ts"

const openMigrated = (): DatabaseSync => SqliteRecords.open(path.join(tmpDir("records"), "expops.sqlite"), 1000, migrate)

const key = (c: string) => c.repeat(64)

const addEntry = (db: DatabaseSync, k: string, lastAccessAt: number) =>
  db.prepare(
    "INSERT INTO cache_entries (key, kind, name, size, created_at, last_access_at, duration_ms) VALUES (?, 'step', 's', 1, 0, ?, 0)"
  ).run(k, lastAccessAt)

/** Each entry's last access as `CacheIndex.entries` reads it: its row's, or a later read in the log. */
const lastAccess = (db: DatabaseSync) =>
  Object.fromEntries(
    (db.prepare(`SELECT cache_entries.key AS key, ${SqliteRecords.LAST_ACCESS} AS at FROM cache_entries ${SqliteRecords.LAST_READS_JOIN}`)
      .all() as Array<{ key: string; at: number }>).map((r) => [r.key[0], r.at])
  )

const rowAccess = (db: DatabaseSync) =>
  Object.fromEntries(
    (db.prepare("SELECT key, last_access_at AS at FROM cache_entries").all() as Array<{ key: string; at: number }>).map((r) => [r.key[0], r.at])
  )

const logLength = (db: DatabaseSync) => (db.prepare("SELECT count(*) AS n FROM cache_reads").get() as { n: number }).n

describe("SqliteRecords", () => {
  it("reads go to a log that the last access already counts, and are folded into the entries' rows once it is long", () => {
    const db = openMigrated()
    addEntry(db, key("a"), 1000)
    addEntry(db, key("b"), 4000)
    addEntry(db, key("c"), 2000)
    // A read older than the row's time does not move it back.
    SqliteRecords.recordReads(db, [[key("a"), 5000], [key("a"), 7000], [key("b"), 3000]], 10)
    assert.strictEqual(logLength(db), 3)
    assert.deepStrictEqual(rowAccess(db), { a: 1000, b: 4000, c: 2000 }, "not folded yet")
    assert.deepStrictEqual(lastAccess(db), { a: 7000, b: 4000, c: 2000 })

    // The fourth and fifth reads reach the threshold: everything is folded, and the read of an entry that is gone dropped.
    SqliteRecords.recordReads(db, [[key("c"), 9000], [key("z"), 9500]], 5)
    assert.strictEqual(logLength(db), 0)
    assert.deepStrictEqual(rowAccess(db), { a: 7000, b: 4000, c: 9000 })
    assert.deepStrictEqual(lastAccess(db), { a: 7000, b: 4000, c: 9000 })

    // After the fold the log starts again, and counts from one.
    SqliteRecords.recordReads(db, [[key("b"), 9900]], 2)
    assert.strictEqual(logLength(db), 1)
    assert.deepStrictEqual(lastAccess(db), { a: 7000, b: 9900, c: 9000 })
    db.close()
  })

  it("a file of schema 2 is upgraded in place: the log is added, the unused index on last access dropped, the entries kept", () => {
    const file = path.join(tmpDir("records"), "expops.sqlite")
    const old = SqliteRecords.open(file, 1000, migrate)
    addEntry(old, key("a"), 1000)
    old.exec("DROP TABLE cache_reads; CREATE INDEX cache_entries_by_access ON cache_entries (last_access_at); PRAGMA user_version = 2")
    old.close()
    const db = SqliteRecords.open(file, 1000, migrate)
    assert.strictEqual(SqliteRecords.schemaVersion(db), SqliteRecords.SCHEMA_VERSION)
    const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cache_entries'").all() as Array<{ name: string }>)
      .map((r) => r.name)
    assert.notInclude(indexes, "cache_entries_by_access")
    SqliteRecords.recordReads(db, [[key("a"), 3000]])
    assert.deepStrictEqual(lastAccess(db), { a: 3000 })
    db.close()
  })
})
