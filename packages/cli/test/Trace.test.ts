import { rmSync, utimesSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, copyProject, json, repoRoot, run, statuses } from "./helpers.ts"

const fixture = Path.join(repoRoot, "packages/cli/test/fixtures/traced")
const ALL = ["load", "load_async", "load_fs", "steady", "with_random", "with_math_random", "with_library"]
const DRAWING = ["with_random", "with_math_random", "with_library"]

const expected = (overrides: Record<string, string>, otherwise = "cached") =>
  Object.fromEntries(ALL.map((name) => [name, overrides[name] ?? otherwise]))

interface Explained {
  readonly explanations: Array<{ status: string; summary: string; changes: Array<{ part: string; message: string }> }>
}
const explain = (dir: string, target: string) => json<Explained>(["explain", dir, target])
const changes = (dir: string, target: string) =>
  Effect.map(explain(dir, target), (e) => e.explanations.flatMap((x) => x.changes.map((c) => c.message)))

/** The stored output of each process of the last run, as `show --json` prints it. */
const outputs = (dir: string) =>
  Effect.forEach(ALL, (name) => Effect.map(json(["show", dir, name]), (shown) => [name, JSON.stringify(shown.entries[0].output)] as const))

/** A new mtime, the same content. */
const touch = (file: string) => utimesSync(file, new Date(), new Date(Date.now() + 5000))

describe("expops run: traced dependencies", () => {
  it.live("a file read by a process body (readFileSync, fs.promises, FileSystem): edited re-runs it, touched hits, deleted fails it", () =>
    Effect.gen(function*() {
      const dir = copyProject(fixture)
      const file = (name: string) => Path.join(dir, "data", name)
      const cold = yield* run(dir)
      assert.strictEqual(cold.status, 0, cold.stderr)
      assert.deepStrictEqual(statuses(cold.report), expected({}, "executed"))
      assert.deepStrictEqual(statuses((yield* run(dir)).report), expected({}))

      for (const [name, process] of [["extra.json", "load"], ["lookup.json", "load_async"], ["table.txt", "load_fs"]] as const) {
        writeFileSync(file(name), name.endsWith(".json") ? `{"scale": 3, "b": 2}\n` : "gamma\n")
        const edited = yield* run(dir)
        assert.deepStrictEqual(statuses(edited.report), expected({ [process]: "executed" }), `after editing ${name}`)
        assert.include(yield* changes(dir, process), `file data/${name} changed (read by process \`${process}\`)`)
      }
      assert.strictEqual((yield* json(["show", dir, "load"])).entries[0].output.scale, 3)

      // Touched, the same content: a hit, and explain says it was served.
      for (const name of ["extra.json", "lookup.json", "table.txt"]) touch(file(name))
      const touched = yield* run(dir)
      assert.deepStrictEqual(statuses(touched.report), expected({}))
      assert.match((yield* explain(dir, "load")).explanations[0]!.summary, /^a hit.*seed not used: served across seeds$/)

      // Deleted: the body runs, fails, and the run says so; the others stay cached.
      rmSync(file("extra.json"))
      const deleted = yield* run(dir)
      assert.strictEqual(deleted.status, 1)
      assert.deepStrictEqual(statuses(deleted.report), expected({ load: "failed" }))
      assert.match(deleted.report.processes[0]!.error!, /ENOENT.*extra\.json/)
      const why = (yield* explain(dir, "load")).explanations[0]!
      assert.match(why.summary, /^process load failed .*ENOENT/)
      assert.deepStrictEqual(why.changes.map((c) => c.message), ["file data/extra.json is missing (read by process `load`)"])
      const text = yield* cli(["explain", dir, "load_fs"])
      assert.match(text.stdout, /files read +1 +\(traced/)
      assert.match(text.stdout, /data\/table\.txt +[0-9a-f]{12}/)
    }))

  it.live("--seed 7 re-runs only what drew random numbers; the same seed reproduces outputs byte for byte at concurrency 1 and 8", () =>
    Effect.gen(function*() {
      const dir = copyProject(fixture)
      const first = yield* run(dir, "--concurrency", "1")
      assert.strictEqual(first.status, 0, first.stderr)
      // Two identical calls of a deterministic step: computed once.
      assert.deepStrictEqual(first.report.processes.find((p) => p.name === "steady")!.steps.map((s) => s.status), ["executed", "cached"])

      const seven = yield* run(dir, "--seed", "7", "--concurrency", "8")
      assert.deepStrictEqual(statuses(seven.report), expected(Object.fromEntries(DRAWING.map((name) => [name, "executed"]))))
      assert.match((yield* explain(dir, "steady")).explanations[0]!.summary, /seed not used: served across seeds$/)
      assert.include((yield* changes(dir, "with_math_random")).join("\n"), "seed changed (42 -> 7)")
      const atEight = yield* outputs(dir)

      // The same seed in a fresh project, one process at a time: the same bytes.
      const other = copyProject(fixture)
      yield* run(other, "--seed", "7", "--concurrency", "1")
      assert.deepStrictEqual(yield* outputs(other), atEight)
      // And another seed gives other numbers: the draws are seeded, not frozen.
      const back = yield* run(dir)
      assert.deepStrictEqual(statuses(back.report), expected({}))
      const at42 = Object.fromEntries(yield* outputs(dir))
      for (const name of DRAWING) assert.notStrictEqual(at42[name], Object.fromEntries(atEight)[name], name)
    }))
})
