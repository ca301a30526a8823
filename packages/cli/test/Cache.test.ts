import { readFileSync, statSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { blobFiles, cli, copyProject, editConfig, json, manifestFile, manifestKeys, run, statuses } from "./helpers.ts"

const binaryFixture = Path.resolve(import.meta.dirname, "fixtures/binary")

const flipByte = (file: string, at: number) => {
  const bytes = readFileSync(file)
  bytes[at] = bytes[at]! ^ 0xff
  writeFileSync(file, bytes)
}

describe("expops cache", () => {
  it.live("verify passes after a run and fails after a manifest is corrupted; a run recomputes the entry", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const ok = yield* cli(["cache", "verify", dir])
      assert.strictEqual(ok.status, 0, ok.stderr)
      assert.match(ok.stdout, /ok: every entry is intact/)

      const first = yield* run(dir)
      const train = first.report.processes.find((p) => p.name === "train_model")!
      flipByte(manifestFile(dir, train.key), 100)
      const bad = yield* cli(["cache", "verify", dir])
      assert.strictEqual(bad.status, 1)
      assert.include(bad.stdout, `corrupt manifest ${train.key.slice(0, 12)}`)
      const report = yield* json(["cache", "verify", dir], 1)
      assert.isFalse(report.ok)
      assert.deepStrictEqual(report.corrupt.map((c: any) => c.key), [train.key])

      // A run never serves the corrupt entry: it warns (on stderr), recomputes and stores it again.
      const again = yield* run(dir)
      assert.strictEqual(again.status, 0, again.stderr)
      assert.strictEqual(statuses(again.report).train_model, "executed")
      assert.strictEqual(statuses(again.report).evaluate, "cached")
      assert.match(again.stderr, /corrupt/)
      assert.strictEqual((yield* cli(["cache", "verify", dir])).status, 0)
    }))

  it.live("verify fails after a blob is corrupted; --repair moves the entries aside and the next run recomputes them", () =>
    Effect.gen(function*() {
      const dir = copyProject(binaryFixture)
      const first = yield* run(dir)
      assert.strictEqual(first.status, 0, first.stderr)
      // The output's blob: the largest (the others hold code parts, which a hit does not read).
      const [blob] = blobFiles(dir).sort((a, b) => statSync(b).size - statSync(a).size)
      assert.isDefined(blob, "the fixture stores a blob")
      assert.strictEqual((yield* cli(["cache", "verify", dir])).status, 0)

      flipByte(blob!, 10)
      const bad = yield* json(["cache", "verify", dir], 1)
      assert.isFalse(bad.ok)
      assert.includeMembers(bad.badBlobs.map((b: any) => b.digest), [Path.basename(blob!)])
      const text = yield* cli(["cache", "verify", dir])
      assert.match(text.stdout, /blob [0-9a-f]{12} content does not match its digest/)

      const repaired = yield* json(["cache", "verify", dir, "--repair"], 1)
      assert.isTrue(repaired.repaired)
      assert.strictEqual((yield* cli(["cache", "verify", dir])).status, 0)
      assert.deepStrictEqual(manifestKeys(dir), [])
      const rerun = yield* run(dir)
      assert.deepStrictEqual(statuses(rerun.report), { noise: "executed" })
      assert.deepStrictEqual(rerun.report.processes[0]!.steps.map((s) => s.status), ["executed"])
    }))

  it.live("a corrupt code-parts blob: verify names it and a repair moves it aside, keeping the entries, which runs still serve", () =>
    Effect.gen(function*() {
      const dir = copyProject(binaryFixture)
      assert.strictEqual((yield* run(dir)).status, 0)
      // The smallest blobs hold code parts; the largest is the output.
      const [codeParts] = blobFiles(dir).sort((a, b) => statSync(a).size - statSync(b).size)
      flipByte(codeParts!, 3)
      const text = yield* cli(["cache", "verify", dir])
      assert.strictEqual(text.status, 1)
      assert.match(text.stdout, /code parts blob [0-9a-f]{12} content does not match its digest/)
      assert.match(text.stdout, /move the corrupt code parts aside \(runs still serve their entries\)/)
      const keys = manifestKeys(dir)
      const repaired = yield* cli(["cache", "verify", dir, "--repair"])
      assert.match(repaired.stdout, /the corrupt code parts were moved aside; their entries are still served/)
      assert.deepStrictEqual(manifestKeys(dir), keys, "no entry moved aside")
      assert.strictEqual((yield* cli(["cache", "verify", dir])).status, 0)
      assert.deepStrictEqual(statuses((yield* run(dir)).report), { noise: "cached" })
    }))

  it.live("stats and ls describe the entries", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const stats = yield* json(["cache", "stats", dir])
      assert.strictEqual(stats.entries, manifestKeys(dir).length)
      assert.isAbove(stats.bytes, 0)
      assert.includeMembers(stats.byName.map((r: any) => r.name), ["train_model", "fit", "load_data"])
      const all = yield* json<Array<any>>(["cache", "ls", dir])
      assert.deepStrictEqual(all.map((e) => e.key).sort(), manifestKeys(dir))
      const trains = yield* json<Array<any>>(["cache", "ls", dir, "--name", "train_model"])
      assert.deepStrictEqual(trains.map((e) => [e.kind, e.name]), [["process", "train_model"]])
      const text = yield* cli(["cache", "stats", dir])
      assert.match(text.stdout, new RegExp(`^${stats.entries} entries`))
    }))

  it.live("prune keeps recent entries, honours --dry-run, and rejects bad sizes", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const entries = manifestKeys(dir)
      const old = yield* json(["cache", "prune", dir, "--older-than", "30d"])
      assert.strictEqual(old.removed.length, 0)
      const dry = yield* json(["cache", "prune", dir, "--max-size", "1KB", "--dry-run"])
      assert.isTrue(dry.dryRun)
      assert.isAbove(dry.removed.length, 0)
      assert.deepStrictEqual(manifestKeys(dir), entries)
      const pruned = yield* json(["cache", "prune", dir, "--max-size", "1KB"])
      assert.strictEqual(manifestKeys(dir).length, entries.length - pruned.removed.length)
      assert.isAtMost(pruned.keptBytes, 1000)
      assert.strictEqual((yield* cli(["cache", "verify", dir])).status, 0)

      const badSize = yield* cli(["cache", "prune", dir, "--max-size", "lots"])
      assert.strictEqual(badSize.status, 2)
      assert.match(badSize.stderr, /--max-size lots: not a size/)
      assert.strictEqual((yield* cli(["cache", "prune", dir])).status, 2)
    }))

  it.live("prune --max-size without a unit is an error suggesting megabytes, not a budget of that many bytes", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const entries = manifestKeys(dir)
      const bare = yield* cli(["cache", "prune", dir, "--max-size", "300"])
      assert.strictEqual(bare.status, 2)
      assert.match(bare.stderr, /--max-size 300: a size needs a unit; did you mean 300MB\?/)
      assert.deepStrictEqual(manifestKeys(dir), entries, "nothing was removed")
      // With its unit it is a budget; 300 MB keeps every entry of this small project.
      const pruned = yield* json(["cache", "prune", dir, "--max-size", "300MB"])
      assert.strictEqual(pruned.removed.length, 0)
      assert.deepStrictEqual(manifestKeys(dir), entries)
    }))

  it.live("explain does not count as a use of the entries it reads, so least-recently-used pruning still sees the runs' uses", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.1")
      yield* run(dir)
      const lastUses = Effect.map(json<Array<any>>(["cache", "ls", dir]), (entries) => Object.fromEntries(entries.map((e) => [e.key, e.lastAccessAt])))
      const before = yield* lastUses
      // Misses: each is compared with the earlier entries of its name.
      for (const target of ["train_model", "evaluate", "train_model/fit", "load_data"]) yield* json(["explain", dir, target])
      assert.deepStrictEqual(yield* lastUses, before)
    }))

  it.live("after a prune, explain of an entry that was removed and recomputed says so instead of naming a change", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      editConfig(dir, "learning_rate: 0.05", "learning_rate: 0.1")
      const second = yield* run(dir)
      // A budget that keeps exactly what the second run used: the first run's train_model and evaluate go.
      const entries = yield* json<Array<any>>(["cache", "ls", dir])
      const budget = entries.filter((e) => e.lastAccessAt >= second.report.run.startedAt).reduce((n, e) => n + e.size, 0)
      const pruned = yield* json(["cache", "prune", dir, "--max-size", `${budget}B`])
      assert.includeMembers(pruned.removed.map((e: any) => e.name), ["train_model", "evaluate"])
      editConfig(dir, "learning_rate: 0.1", "learning_rate: 0.05")
      const third = yield* run(dir)
      assert.deepStrictEqual(statuses(third.report), { load_data: "cached", prepare: "cached", train_model: "executed", evaluate: "executed" })
      for (const target of ["train_model", "evaluate"]) {
        const [why] = (yield* json(["explain", dir, target])).explanations
        assert.deepStrictEqual(why.changes, [], target)
        assert.match(why.summary, /had been stored by run .* and was removed from the cache since/, target)
      }
    }))

  it.live("clear asks on a terminal and needs --yes elsewhere; it empties the cache but keeps the run records", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const stored = manifestKeys(dir)
      // Not on a terminal: nobody to ask.
      const refused = yield* cli(["cache", "clear", dir])
      assert.strictEqual(refused.status, 2)
      assert.match(refused.stderr, /cache clear removes every entry of the cache of .* \(\d+ entries, .*\): pass --yes to do it without being asked \(nothing was removed\)/)
      assert.deepStrictEqual(manifestKeys(dir), stored)
      // On a terminal, asked: "n" keeps everything (exit 1), "y" removes it.
      const declined = yield* cli(["cache", "clear", dir], { terminal: true, input: ["n"] })
      assert.strictEqual(declined.status, 1, declined.stderr)
      assert.match(declined.stderr, /Remove every entry of the cache of .*\? Run records are kept\. \[y\/N\] nothing removed/)
      assert.deepStrictEqual(manifestKeys(dir), stored)
      const asked = yield* cli(["cache", "clear", dir], { terminal: true, input: ["y"] })
      assert.strictEqual(asked.status, 0, asked.stderr)
      assert.match(asked.stdout, /removed \d+ entries/)
      yield* run(dir)
      const cleared = yield* json(["cache", "clear", dir, "--yes"])
      assert.isAbove(cleared.removed, 0)
      assert.deepStrictEqual(manifestKeys(dir), [])
      assert.strictEqual((yield* json<Array<any>>(["runs", "ls", dir])).length, 2, "run records are kept")
      const again = yield* run(dir)
      assert.isTrue(again.report.processes.every((p) => p.status === "executed"))
    }))
})
