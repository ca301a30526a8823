/**
 * A process killed while `hashAndPutBlob` writes a large blob leaves no
 * blob a reader could see: only a temp file in `blobs/`, which `removeTemps`
 * clears, and the same bytes stored afterwards verify.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Option } from "effect"
import { LocalCacheStore } from "@expops/backend-local"
import { largeBytes } from "./fixtures/largeBytes.ts"
import { tmpDir } from "./fixtures/tmp.ts"

const MIB = 96
const script = path.join(import.meta.dirname, "fixtures", "largeBlob.ts")

/** Temp files of blobs being written, with their sizes. */
const temps = (blobs: string) =>
  fs.readdirSync(blobs).filter((name) => name.startsWith(".tmp-")).map((name) => fs.statSync(path.join(blobs, name)).size)

/** Runs the writer and kills it once some of the blob is on disk; resolves with how it ended. */
const killMidWrite = (cache: string) =>
  new Promise<{ killed: boolean; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=@expops/source", "--no-warnings", script, cache, String(MIB)], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let killed = false
    const watch = () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      // Killed once a chunk has landed and before the last one has.
      const sizes = stdout.startsWith("ready\n") ? temps(path.join(cache, "blobs")) : []
      if (sizes.some((size) => size > 0)) {
        killed = child.kill("SIGKILL")
        return
      }
      setImmediate(watch)
    }
    child.stdout.on("data", (chunk) => {
      const first = stdout === ""
      stdout += chunk
      if (first) watch()
    })
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (_code, signal) => resolve({ killed: killed && signal === "SIGKILL", stdout, stderr }))
  })

describe("LocalCacheStore crash safety of large blobs", () => {
  it.live("a writer killed mid-way leaves no visible blob; its temp file is removable and the blob stores again", () =>
    Effect.gen(function*() {
      const cache = path.join(tmpDir("large-crash"), "cache")
      const store = yield* LocalCacheStore.make(cache, undefined)
      const result = yield* Effect.promise(() => killMidWrite(cache))
      assert.isTrue(result.killed, `the writer was not killed mid-write:\n${result.stdout}${result.stderr}`)
      assert.notInclude(result.stdout, "stored")

      // Nothing under a digest's name: a reader sees no blob, not part of one.
      assert.deepStrictEqual(yield* store.listBlobs, [])
      const bytes = largeBytes(MIB)
      const digest = createHash("sha256").update(bytes).digest("hex")
      assert.isTrue(Option.isNone(yield* store.getBlob(digest)))
      assert.strictEqual(temps(path.join(cache, "blobs")).length, 1)

      assert.strictEqual(yield* store.removeTemps(0), 1)
      assert.strictEqual(yield* store.hashAndPutBlob(bytes), digest)
      const stored = yield* store.getBlobHashed(digest)
      assert.strictEqual(Option.getOrThrow(stored).sha256, digest)
      assert.deepStrictEqual(fs.readdirSync(path.join(cache, "blobs")).filter((name) => name.startsWith(".")), [])
    }), 60_000)
})
