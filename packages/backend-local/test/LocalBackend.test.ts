import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { Cache, CacheAdmin, Reproducibility, type RunReport, RunStore, Step } from "@expops/core"
import { Effect, Layer, Option, Schema } from "effect"
import { LocalBackend, type LocalCacheStore } from "@expops/backend-local"
import { cacheDirs, entriesIn, filesUnder } from "./fixtures/files.ts"
import { tmpDir } from "./fixtures/tmp.ts"

const makeStep = () => {
  let runs = 0
  const step = Step.make({
    name: "data",
    input: Schema.Struct({ n: Schema.Int, bytes: Schema.Int }),
    output: Schema.Struct({ n: Schema.Int, data: Schema.Uint8Array }),
    run: function*({ bytes, n }) {
      runs++
      return { n, data: new Uint8Array(bytes).fill(n % 256) }
    }
  })
  return { step, runs: () => runs }
}

const withBackend = (dir: string, options?: LocalCacheStore.Options) =>
  Layer.provideMerge(Cache.layer(), Layer.merge(LocalBackend.layer(dir, options), Reproducibility.layer(1)))

/** Builds the backend layer only, returning the error it fails with. */
const openError = (dir: string) => Effect.flip(Effect.provide(Effect.void, LocalBackend.layer(dir)))

/** Everything stored under the project's .expops folder, with contents. */
const snapshot = (dir: string) =>
  filesUnder(path.join(dir, ".expops")).filter((f) => !f.startsWith("expops.sqlite")).map((f) => [f, fs.readFileSync(path.join(dir, ".expops", f)).toString("base64")])

const ENOSPC = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })

describe("LocalBackend", () => {
  it.effect("provides the cache store, maintenance and run store of a project", () => {
    const dir = tmpDir()
    return Effect.gen(function*() {
      const { runs, step } = makeStep()
      yield* step({ n: 1, bytes: 10 })
      yield* step({ n: 1, bytes: 10 })
      assert.strictEqual(runs(), 1)
      assert.strictEqual((yield* (yield* CacheAdmin.CacheAdmin).stats).entries, 1)
      assert.isTrue(fs.existsSync(LocalBackend.paths(dir).database))
      assert.strictEqual(entriesIn(cacheDirs(dir).manifests).length, 1)
    }).pipe(Effect.provide(withBackend(dir)))
  })

  describe("bad input: a clear error naming the path, nothing stored lost", () => {
    it.effect("a cache folder that is a file", () =>
      Effect.gen(function*() {
        const dir = tmpDir()
        fs.mkdirSync(path.join(dir, ".expops"))
        fs.writeFileSync(path.join(dir, ".expops", "cache"), "my notes")
        const error = yield* openError(dir)
        assert.strictEqual(error._tag, "LocalBackendError")
        assert.strictEqual((error as any).path, path.join(dir, ".expops", "cache"))
        assert.match(error.message, /could not open the cache folder at .*\.expops\/cache: .*(ENOTDIR|EEXIST)/)
        // The file system's own error is kept: its errno code and stack.
        const cause = (error as { cause?: NodeJS.ErrnoException }).cause
        assert.oneOf(cause?.code, ["ENOTDIR", "EEXIST"])
        assert.match(cause?.stack ?? "", /\n\s+at /)
        assert.strictEqual(fs.readFileSync(path.join(dir, ".expops", "cache"), "utf8"), "my notes")
      }))

    it.effect.skipIf(process.getuid?.() === 0)("a cache folder without write permission", () =>
      Effect.gen(function*() {
        const dir = tmpDir()
        yield* makeStep().step({ n: 1, bytes: 10 }).pipe(Effect.provide(withBackend(dir)))
        const before = snapshot(dir)
        fs.chmodSync(cacheDirs(dir).cache, 0o555)
        try {
          const error = yield* openError(dir)
          assert.match(error.message, /could not open the cache folder at .*\.expops\/cache: permission denied/)
        } finally {
          fs.chmodSync(cacheDirs(dir).cache, 0o755)
        }
        assert.deepStrictEqual(snapshot(dir), before)
      }))

    // Root ignores permission bits, so the case above cannot run as root (as
    // in CI); these refuse writes through the store's file operations instead.
    for (const [code, words] of [["EROFS", "the file system is read-only"], ["EACCES", "permission denied"]] as const) {
      it.effect(`a cache folder that refuses writes (${code}, simulated)`, () =>
        Effect.gen(function*() {
          const dir = tmpDir()
          const { runs, step } = makeStep()
          yield* step({ n: 1, bytes: 10 }).pipe(Effect.provide(withBackend(dir)))
          const before = snapshot(dir)
          const refusing = {
            openSync: ((file: fs.PathLike, flags?: fs.OpenMode, mode?: fs.Mode) => {
              if (flags === "wx") throw Object.assign(new Error(`${code}: refused, open '${file}'`), { code })
              return fs.openSync(file, flags ?? "r", mode)
            }) as typeof fs.openSync
          }
          const error = yield* Effect.flip(Effect.provide(Effect.void, LocalBackend.layer(dir, { io: refusing })))
          assert.match(error.message, new RegExp(`could not open the cache folder at .*\\.expops/cache: ${words} \\(${code}\\)`))
          assert.deepStrictEqual(snapshot(dir), before)
          yield* step({ n: 1, bytes: 10 }).pipe(Effect.provide(withBackend(dir)))
          assert.strictEqual(runs(), 1, "the stored entry is still served")
        }))
    }

    it.live("a full disk: writes fail with the path, earlier entries are still served, no partial file is left", () =>
      Effect.gen(function*() {
        const dir = tmpDir()
        const { runs, step } = makeStep()
        yield* step({ n: 1, bytes: 10 }).pipe(Effect.provide(withBackend(dir)))
        yield* step({ n: 2, bytes: 100_000 }).pipe(Effect.provide(withBackend(dir)))
        const before = snapshot(dir)
        // The disk fills up after 512 more bytes.
        let room = 512
        const full = {
          writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null) => {
            if (room <= 0) throw ENOSPC
            const n = Math.min(room, length)
            room -= n
            return fs.writeSync(fd, buffer, offset, n, position)
          },
          write: () => Promise.reject(ENOSPC)
        }
        const failing = withBackend(dir, { io: full })
        for (const [n, bytes] of [[3, 10], [4, 100_000], [5, 9 * 1024 * 1024]] as const) {
          const error = yield* Effect.flip(step({ n, bytes }).pipe(Effect.provide(failing)))
          assert.strictEqual(error._tag, "CacheStoreError")
          assert.match(error.message, /local cache: could not write (manifest|blob) at .*\.expops\/cache\/(manifests|blobs)\/[0-9a-f]{2}\/[0-9a-f]{64}: no space left on the device \(disk full\) \(ENOSPC\)/)
        }
        assert.deepStrictEqual(snapshot(dir), before, "no partial or temp file, nothing lost")
        // Reading still works on the full disk.
        yield* step({ n: 1, bytes: 10 }).pipe(Effect.provide(failing))
        yield* step({ n: 2, bytes: 100_000 }).pipe(Effect.provide(failing))
        assert.strictEqual(runs(), 5)
        const verify = yield* Effect.gen(function*() {
          return yield* (yield* CacheAdmin.CacheAdmin).verify()
        }).pipe(Effect.provide(withBackend(dir)))
        assert.isTrue(verify.ok)
      }))

    it.effect("a SQLite file written by a newer version: says so, and keeps the versions as data", () =>
      Effect.gen(function*() {
        const dir = tmpDir()
        yield* Effect.provide(Effect.void, LocalBackend.layer(dir))
        const database = LocalBackend.paths(dir).database
        const db = new DatabaseSync(database)
        db.exec("PRAGMA user_version = 99")
        db.close()
        const error = yield* openError(dir)
        assert.strictEqual(error._tag, "LocalBackendError")
        assert.match(error.message, /could not open the SQLite database at .*: it was written by a newer version of @expops\/backend-local \(schema 99, this one knows \d+\)/)
        const cause = (error as { cause?: { _tag?: string; found?: number } }).cause
        assert.strictEqual(cause?._tag, "NewerSchemaError")
        assert.strictEqual(cause?.found, 99)
      }))

    it.effect("a SQLite file of schema 1 (before live runs): upgraded in place, its runs kept", () =>
      Effect.gen(function*() {
        const dir = tmpDir()
        const report: RunReport.RunReport = {
          run: { id: "r1", pipeline: "demo", status: "success", seed: 1, backend: "local", startedAt: 1000, durationMs: 5 },
          processes: [{ name: "p", status: "executed", key: "a".repeat(64), durationMs: 5, steps: [] }]
        }
        yield* RunStore.RunStore.use((runs) => runs.saveRun(report)).pipe(Effect.provide(LocalBackend.layer(dir)))
        const db = new DatabaseSync(LocalBackend.paths(dir).database)
        db.exec("DROP TABLE run_graphs; DROP TABLE run_changes; PRAGMA user_version = 1")
        db.close()
        yield* RunStore.RunStore.use((runs) =>
          Effect.gen(function*() {
            assert.deepStrictEqual(Option.getOrThrow(yield* runs.getRun("r1")), report)
            yield* runs.live!.begin({ id: "r2", pipeline: "demo", startedAt: 2000, seed: 1, backend: "local", processes: [] })
            assert.deepStrictEqual((yield* runs.live!.inProgress).map((r) => r.id), ["r2"])
          })
        ).pipe(Effect.provide(LocalBackend.layer(dir)))
      }))

    it.effect("a SQLite file that is not a database", () =>
      Effect.gen(function*() {
        const dir = tmpDir()
        const { runs, step } = makeStep()
        yield* step({ n: 1, bytes: 10 }).pipe(Effect.provide(withBackend(dir)))
        const database = LocalBackend.paths(dir).database
        for (const suffix of ["-wal", "-shm"]) fs.rmSync(database + suffix, { force: true })
        const garbage = Buffer.from("this is not a database, it is a shopping list\n".repeat(200))
        fs.writeFileSync(database, garbage)
        const before = snapshot(dir)
        const error = yield* openError(dir)
        assert.strictEqual(error._tag, "LocalBackendError")
        assert.strictEqual((error as any).path, database)
        assert.match(error.message, /could not open the SQLite database at .*expops\.sqlite: the file is not an SQLite database/)
        assert.strictEqual((error as { cause?: { errcode?: number } }).cause?.errcode, 26, "SQLite's own error is kept (SQLITE_NOTADB)")
        assert.isTrue(fs.readFileSync(database).equals(garbage), "the file is left as it was")
        assert.deepStrictEqual(snapshot(dir), before)
        // Moving it aside, as the message says, gets a working backend with the entries intact.
        fs.renameSync(database, `${database}.bad`)
        yield* step({ n: 1, bytes: 10 }).pipe(Effect.provide(withBackend(dir)))
        assert.strictEqual(runs(), 1)
      }))
  })
})
