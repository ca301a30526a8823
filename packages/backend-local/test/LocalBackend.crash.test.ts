/**
 * Crash safety: a child process running a cold pipeline on the local backend
 * is SIGKILLed at random moments, many times, on one project folder. Then no
 * entry in the cache differs from the entry a clean run writes under the same
 * key, the cache verifies, and the next run completes with the clean results.
 */
import { assert, describe, it } from "@effect/vitest"
import { CacheAdmin } from "@expops/core"
import { Effect } from "effect"
import { LocalBackend } from "@expops/backend-local"
import { runPipeline, runToEnd } from "./fixtures/child.ts"
import { storedEntries } from "./fixtures/entries.ts"
import { cacheDirs, filesUnder } from "./fixtures/files.ts"
import { tmpDir } from "./fixtures/tmp.ts"

const KILLS = 18
// A fresh variant per attempt, so every run starts cold and is killed while writing.
const VARIANTS = Array.from({ length: KILLS }, (_, i) => i)
// Packing every 40 entries: kills land while manifest files are packed too.
const ENV = { FIXTURE_STEPS: "100", FIXTURE_PACK_EVERY: "40" }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** How long a cold run takes here, from the backend being open to the end: the window to kill in. */
const calibrate = async () => {
  const child = runPipeline(tmpDir("calibrate"), [1000], ENV)
  await child.ready
  const started = performance.now()
  await child.exit
  return performance.now() - started
}

const killRepeatedly = async (dir: string, window: number) => {
  const log: Array<string> = []
  let killedMidRun = 0
  for (const variant of VARIANTS) {
    const child = runPipeline(dir, [variant], ENV)
    await child.ready
    const delay = Math.floor(Math.random() * window)
    await sleep(delay)
    const killed = child.process.kill("SIGKILL")
    const result = await child.exit
    const mid = killed && result.signal === "SIGKILL"
    if (mid) killedMidRun++
    else if (result.code !== 0) throw new Error(`run of variant ${variant} failed before it was killed:\n${result.stderr}`)
    log.push(`variant ${variant} +${delay}ms ${mid ? "killed" : "finished"}`)
  }
  return { killedMidRun, log }
}

describe("LocalBackend crash safety", () => {
  it.live(`SIGKILL at random moments (${KILLS} times) never leaves an entry that differs from a clean run's`, () =>
    Effect.gen(function*() {
      const crashed = tmpDir("crashed")
      const clean = tmpDir("clean")
      const window = yield* Effect.promise(calibrate)
      const { killedMidRun, log } = yield* Effect.promise(() => killRepeatedly(crashed, window))
      assert.isAbove(killedMidRun, 0, log.join("\n"))
      console.log(`crash test: ${killedMidRun} of ${KILLS} runs killed mid-way (cold run ${Math.round(window)} ms)`)

      const reference = yield* Effect.promise(() => runToEnd(clean, VARIANTS, { ...ENV, FIXTURE_FSYNC: "0" }))

      // Every entry left by the killed runs (packed or not) is complete and equal to the clean run's entry of the same key.
      const survivors = yield* storedEntries(crashed)
      const expectedEntries = yield* storedEntries(clean)
      assert.isAbove(survivors.size, 0, "the killed runs stored something")
      assert.isAbove(filesUnder(cacheDirs(crashed).packs).length, 0, "the killed runs packed entries")
      for (const [key, entry] of survivors) {
        const expected = expectedEntries.get(key)
        assert.isDefined(expected, `entry ${key} (${entry.recipe.name}) of the clean run`)
        assert.deepStrictEqual(entry.output, expected!.output, `entry ${key} (${entry.recipe.name})`)
        assert.deepStrictEqual(entry.blobs, expected!.blobs, `blobs of entry ${key} (${entry.recipe.name})`)
      }
      const verify = yield* Effect.gen(function*() {
        return yield* (yield* CacheAdmin.CacheAdmin).verify()
      }).pipe(Effect.provide(LocalBackend.layer(crashed)))
      assert.isTrue(verify.ok, JSON.stringify(verify))
      assert.deepStrictEqual(filesUnder(cacheDirs(crashed).quarantine), [])

      // The next run completes, serving what survived, with the clean results.
      const resumed = yield* Effect.promise(() => runToEnd(crashed, VARIANTS, ENV))
      assert.isTrue(resumed.some((l) => l.processes.some(([, status]: [string, string]) => status === "executed")), "some kills left work undone")
      assert.deepStrictEqual(resumed.map((l) => l.summary), reference.map((l) => l.summary))
      assert.isTrue(resumed.every((l) => l.status === "success"))
      assert.deepStrictEqual(filesUnder(cacheDirs(crashed).quarantine), [], "nothing was found corrupt")
    }), 120_000)
})
