/**
 * The replay of a fully cached `expops run` happens in the executable before
 * the CLI loads, so these cases start the real binary: they check that a
 * replay answers only when every input is as it was, that it reports and
 * records what the full path does, and that every change declines it.
 * `EXPOPS_REPLAY=explain` makes each run say whether it was replayed, and why not.
 */
import { spawnSync } from "node:child_process"
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { pathToFileURL } from "node:url"
import type { RunReport } from "@expops/core"
import { LocalCacheStore } from "@expops/backend-local"
import { LAST_ACCESS, LAST_READS_JOIN } from "@expops/backend-local/SqliteRecords"
import { Effect } from "effect"
import { assert, describe, it } from "vitest"
import { configPath, copyProject, editConfig, manifestFile, repoRoot, spawnCli, statuses, tempDir } from "../../helpers.ts"

const binaryFixture = Path.resolve(import.meta.dirname, "../../fixtures/binary")

interface Outcome {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
  /** Whether the run was answered from the receipt. */
  readonly replayed: boolean
  /** Why it was not, when it was not. */
  readonly declined: string | undefined
}

const expops = async (args: ReadonlyArray<string>, env?: Record<string, string>): Promise<Outcome> => {
  const result = await spawnCli(args, { env: { EXPOPS_REPLAY: "explain", ...env } })
  const line = result.stderr.split("\n").find((l) => l.startsWith("replay: "))
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    replayed: line === "replay: answered from the receipt of the last run",
    declined: line?.startsWith("replay: not used: ") ? line.slice("replay: not used: ".length) : undefined
  }
}

const report = (outcome: Outcome): RunReport.RunReport => {
  assert.strictEqual(outcome.status, 0, outcome.stderr)
  return JSON.parse(outcome.stdout) as RunReport.RunReport
}

/** The report without what differs between two runs of the same entries: ids, times, durations. */
const comparable = (r: RunReport.RunReport) => ({
  run: { ...r.run, id: undefined, startedAt: undefined, durationMs: undefined },
  processes: r.processes.map((p) => ({ ...p, durationMs: undefined })),
  metrics: r.metrics
})

/** Plain output without its numbers (times, ids). */
const shape = (text: string) => text.replace(/replay: .*\n/, "").replace(/[0-9a-f]{6}\b|\d+(\.\d+)?/g, "#")

/** The receipts a project holds. */
const receipts = (dir: string): Array<string> => {
  const folder = Path.join(dir, ".expops/replay")
  return existsSync(folder) ? readdirSync(folder).filter((name) => name.endsWith(".json")) : []
}

/** A quick-start copy run until its receipt is written: a cold run, then a fully cached one. */
const cachedProject = async (): Promise<string> => {
  const dir = copyProject()
  assert.strictEqual((await expops(["run", dir])).status, 0)
  const second = await expops(["run", dir, "--json"])
  assert.isFalse(second.replayed)
  assert.strictEqual(receipts(dir).length, 1, second.stderr)
  return dir
}

describe("replay of a fully cached run", () => {
  it("answers an identical run, reports and prints what the full path does, and records it", async () => {
    const dir = copyProject()
    await expops(["run", dir])
    const full = await expops(["run", dir, "--json"])
    const fullPlain = await expops(["run", dir])
    assert.isFalse(full.replayed)
    assert.isTrue(fullPlain.replayed, fullPlain.stderr)

    const replay = await expops(["run", dir, "--json"])
    assert.isTrue(replay.replayed, replay.stderr)
    const [before, after] = [report(full), report(replay)]
    assert.deepStrictEqual(comparable(after), comparable(before))
    assert.notStrictEqual(after.run.id, before.run.id)
    assert.deepStrictEqual(statuses(after), { load_data: "cached", prepare: "cached", train_model: "cached", evaluate: "cached" })
    // The same progress lines and summary as the full path, times aside.
    const fullText = (await expops(["run", dir], { EXPOPS_REPLAY: "0" })).stdout
    assert.strictEqual(shape(fullPlain.stdout), shape(fullText))

    // Recorded as the full path records runs: in the run history, and as reads in the cache index.
    const db = new DatabaseSync(Path.join(dir, ".expops/expops.sqlite"), { readOnly: true })
    try {
      const row = db.prepare("SELECT status, report FROM runs WHERE id = ?").get(after.run.id) as { status: string; report: string }
      assert.strictEqual(row.status, "success")
      assert.deepStrictEqual(JSON.parse(row.report).processes.map((p: { status: string }) => p.status), ["cached", "cached", "cached", "cached"])
      const finished = db.prepare("SELECT count(*) AS n FROM run_changes WHERE run_id = ? AND type = 'finished'").get(after.run.id) as { n: number }
      assert.strictEqual(finished.n, 1)
      for (const p of after.processes) {
        const entry = db.prepare(`SELECT ${LAST_ACCESS} AS at FROM cache_entries ${LAST_READS_JOIN} WHERE cache_entries.key = ?`).get(p.key) as { at: number }
        assert.isAtLeast(entry.at, after.run.startedAt, p.name)
      }
    } finally {
      db.close()
    }
  })

  it("is declined by an edit to a module, even one that keeps the size and puts back the mtime; the full path then runs", async () => {
    const dir = await cachedProject()
    // A comment: the keys stay, so the full path serves everything and leaves a new receipt.
    appendFileSync(Path.join(dir, "src/train.ts"), "// a note\n")
    const commented = await expops(["run", dir, "--json"])
    assert.include(commented.declined, Path.join(dir, "src/train.ts"))
    assert.deepStrictEqual(Object.values(statuses(report(commented))), ["cached", "cached", "cached", "cached"])
    assert.isTrue((await expops(["run", dir])).replayed)

    // The same number of bytes, and the old mtime put back: the ctime still moved. (A whole second, which
    // `utimes` can put back exactly.)
    const config = configPath(dir)
    const second = new Date("2026-01-01T00:00:00Z")
    utimesSync(config, second, second)
    assert.include((await expops(["run", dir])).declined, config)
    assert.isTrue((await expops(["run", dir])).replayed)
    editConfig(dir, "test_size: 0.2", "test_size: 0.3")
    utimesSync(config, second, second)
    const edited = await expops(["run", dir, "--json"])
    assert.include(edited.declined, config)
    assert.strictEqual(statuses(report(edited)).prepare, "executed")
  })

  it("is declined by a changed data file", async () => {
    const dir = await cachedProject()
    const data = Path.join(dir, "data/iris.csv")
    writeFileSync(data, readFileSync(data, "utf8").replace("5.1,3.5", "5.2,3.5"))
    const outcome = await expops(["run", dir, "--json"])
    assert.include(outcome.declined, data)
    assert.strictEqual(statuses(report(outcome)).load_data, "executed")
  })

  it("is declined when an entry it served is gone or damaged: the full path finds out and computes it again", async () => {
    const dir = await cachedProject()
    const keys = report(await expops(["run", dir, "--json"])).processes.map((p) => p.key)
    rmSync(manifestFile(dir, keys[3]!))
    const removed = await expops(["run", dir, "--json"])
    assert.include(removed.declined, `the cache entry ${keys[3]} is gone or changed`)
    assert.strictEqual(statuses(report(removed)).evaluate, "executed")
    // That run computed something: it left no receipt, and removed the one it replaced.
    assert.deepStrictEqual(receipts(dir), [])
    assert.include((await expops(["run", dir])).declined, "no receipt")
    assert.isTrue((await expops(["run", dir])).replayed)
    const file = manifestFile(dir, keys[1]!)
    const bytes = readFileSync(file)
    bytes[bytes.length - 3] ^= 0x01
    writeFileSync(file, bytes)
    const damaged = await expops(["run", dir, "--json"])
    assert.include(damaged.declined, `the cache entry ${keys[1]} is gone or changed`)
    assert.strictEqual(statuses(report(damaged)).prepare, "executed")
  })

  it("is declined by a manifest file that grew, though it starts with the bytes the run read", async () => {
    const dir = await cachedProject()
    const keys = report(await expops(["run", dir, "--json"])).processes.map((p) => p.key)
    appendFileSync(manifestFile(dir, keys[2]!), "\n")
    const grown = await expops(["run", dir, "--json"])
    assert.include(grown.declined, `the cache entry ${keys[2]} is gone or changed`)
  })

  it("answers from entries packed since the receipt was written, and is declined once one is deleted from its pack", async () => {
    const dir = await cachedProject()
    const keys = report(await expops(["run", dir, "--json"])).processes.map((p) => p.key)
    const inStore = <A>(use: (store: LocalCacheStore.Shape) => Effect.Effect<A, unknown>) =>
      Effect.runPromise(Effect.flatMap(LocalCacheStore.LocalCacheStore, use).pipe(
        Effect.provide(LocalCacheStore.layerWithoutIndex(Path.join(dir, ".expops/cache")))
      ) as Effect.Effect<A>)
    // The processes' entries and their steps'.
    assert.isAtLeast((await inStore((store) => store.pack)).records, keys.length)
    assert.isFalse(existsSync(manifestFile(dir, keys[0]!)))
    // The receipt named the files: the full path runs, serves every entry from the pack, and leaves a receipt naming it.
    const moved = await expops(["run", dir, "--json"])
    assert.include(moved.declined, "is gone or changed")
    assert.isTrue(Object.values(statuses(report(moved))).every((status) => status === "cached"))
    assert.isTrue((await expops(["run", dir])).replayed)
    await inStore((store) => store.deleteManifest(keys[1]!))
    const deleted = await expops(["run", dir, "--json"])
    assert.include(deleted.declined, `the cache entry ${keys[1]} is gone or changed`)
    assert.strictEqual(statuses(report(deleted)).prepare, "executed")
  })

  it("keeps a receipt per invocation and environment: others are declined until they have their own", async () => {
    const dir = await cachedProject()
    // --json only changes where the report goes: the same receipt answers.
    assert.isTrue((await expops(["run", dir, "--json"])).replayed)
    const none = "no receipt of a fully cached run with these arguments, working folder and environment"
    assert.strictEqual((await expops(["run", dir, "--concurrency", "2"])).declined, none)
    assert.strictEqual((await expops(["run", dir], { SOME_SETTING: "1" })).declined, none)
    assert.strictEqual(receipts(dir).length, 3)
    assert.isTrue((await expops(["run", dir, "--concurrency", "2"])).replayed)
    assert.isTrue((await expops(["run", dir], { SOME_SETTING: "1" })).replayed)
    assert.isTrue((await expops(["run", dir])).replayed)
    const off = await expops(["run", dir], { EXPOPS_REPLAY: "0" })
    assert.isFalse(off.replayed)
    assert.notInclude(off.stderr, "replay:")
  })

  it("is declined by a package folder that appears nearer the project's modules", async () => {
    // Without the module memo, whose own checks of such folders would decline it too.
    const memoOff = { EXPOPS_MODULE_MEMO: "0" }
    const dir = copyProject()
    for (let i = 0; i < 2; i++) assert.strictEqual((await expops(["run", dir], memoOff)).status, 0)
    assert.isTrue((await expops(["run", dir], memoOff)).replayed)
    mkdirSync(Path.join(dir, "src/node_modules/effect"), { recursive: true })
    assert.include((await expops(["run", dir], memoOff)).declined, Path.join(dir, "src/node_modules/effect"))
  })

  it("leaves no receipt for a run that read blobs, a dry run or a run without the cache", async () => {
    const dir = copyProject(binaryFixture)
    for (const args of [[], [], ["--dry-run"], ["--no-cache"]]) assert.strictEqual((await expops(["run", dir, ...args])).status, 0)
    assert.deepStrictEqual(receipts(dir), [])
    assert.isFalse((await expops(["run", dir])).replayed)
  })
})

describe("the watch", () => {
  it("keeps a path's state from when it was first read, so an edit during the run disagrees with the receipt", () => {
    const root = tempDir()
    const file = Path.join(root, "input.txt")
    writeFileSync(file, "one")
    const watch = pathToFileURL(Path.join(repoRoot, "packages/cli/dist/internal/replay/watch.js")).href
    const state = pathToFileURL(Path.join(repoRoot, "packages/cli/dist/internal/replay/state.js")).href
    const script = [
      `const Watch = await import(${JSON.stringify(watch)})`,
      `const State = await import(${JSON.stringify(state)})`,
      `const fs = await import("node:fs")`,
      `Watch.install({ ignore: [] })`,
      `fs.readFileSync(${JSON.stringify(file)})`,
      `fs.writeFileSync(${JSON.stringify(file)}, "two, longer")`,
      `fs.readFileSync(${JSON.stringify(file)})`,
      `const [, recorded] = Watch.entries().find(([p]) => p === ${JSON.stringify(file)})`,
      `console.log(JSON.stringify({ recorded, unchanged: State.unchanged(${JSON.stringify(file)}, recorded) }))`
    ].join("\n")
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 })
    assert.strictEqual(child.status, 0, child.stderr)
    const out = JSON.parse(child.stdout) as { recorded: string; unchanged: boolean }
    assert.match(out.recorded, /^read file:3:/)
    assert.isFalse(out.unchanged)
  })

  it("gives up the receipt after a recursive listing, or once the run computes (abandon): nothing more is noted", () => {
    const root = tempDir()
    mkdirSync(Path.join(root, "a/b"), { recursive: true })
    writeFileSync(Path.join(root, "a/b/file.txt"), "x")
    const watch = pathToFileURL(Path.join(repoRoot, "packages/cli/dist/internal/replay/watch.js")).href
    const script = [
      `const Watch = await import(${JSON.stringify(watch)})`,
      `const fs = await import("node:fs")`,
      `Watch.install({ ignore: [] })`,
      `fs.readdirSync(${JSON.stringify(Path.join(root, "a"))})`,
      `const listed = Watch.isComplete()`,
      `fs.readdirSync(${JSON.stringify(root)}, { recursive: true })`,
      `const recursive = Watch.isComplete()`,
      `Watch.abandon()`,
      `fs.readFileSync(${JSON.stringify(Path.join(root, "a/b/file.txt"))})`,
      `console.log(JSON.stringify({ listed, recursive, after: Watch.entries().length }))`
    ].join("\n")
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 })
    assert.strictEqual(child.status, 0, child.stderr)
    assert.deepStrictEqual(JSON.parse(child.stdout), { listed: true, recursive: false, after: 0 })
  })

  it("the replay's modules load no effect module", () => {
    const replay = pathToFileURL(Path.join(repoRoot, "packages/cli/dist/internal/replay/replay.js")).href
    const script = [
      `const { registerHooks } = await import("node:module")`,
      `const seen = []`,
      `registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.push(r.url); return r } })`,
      `await import(${JSON.stringify(replay)})`,
      `console.log(JSON.stringify(seen))`
    ].join("\n")
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 })
    assert.strictEqual(child.status, 0, child.stderr)
    const seen = JSON.parse(child.stdout) as Array<string>
    assert.isAbove(seen.length, 5)
    assert.deepStrictEqual(seen.filter((url) => url.includes("/node_modules/effect/")), [])
  })
})
