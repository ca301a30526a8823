/**
 * Stores or restores one large step output, or measures a floor, in a fresh
 * Node process, so that the peak memory it reports (`maxRSS`, a high-water
 * mark) belongs to that one operation and no earlier one warms what it uses.
 * Run by bench/compare/store.ts:
 *
 *   node bench/compare/largeOutput.ts write|read|floor-write|floor-read DIR MIB ROUND
 *
 * - `write` allocates the output first, then measures the step call that
 *   stores it (a miss: key, serialization, hashing and durable writing);
 * - `read` measures the step call that restores it (a hit: reading, checking
 *   the digest, decoding);
 * - `floor-write` writes the same bytes to a file with `writeSync` and
 *   fsync; `floor-read` reads that file with `readFileSync` and computes its
 *   SHA-256, the least a cache that verifies what it serves can do.
 *
 * Prints one JSON line.
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { createHash } from "node:crypto"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Cache, Reproducibility, Step } from "@expops/core"
import { LocalBackend } from "@expops/backend-local"
import { TestBytes } from "@expops/core/testing"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"

const [mode, dir, mib, roundArg] = process.argv.slice(2)
const size = Number(mib) * 1024 * 1024
const round = Number(roundArg)
const MB = 1e6
const MiB = 1024 * 1024
const rssMiB = () => process.memoryUsage().rss / MiB
/** The process's peak resident memory so far (`maxRSS` is in KiB). */
const peakMiB = () => process.resourceUsage().maxRSS / 1024
const floorFile = path.join(dir!, `floor-${round}.bin`)

/** Distinct content per round, so each round stores a new blob. */
const produce = () => TestBytes.pseudoRandom(size, (round + 1) * 2654435761)

/** What the step returns when it runs (module level: a body may not read a block's variables). */
const produced: { bytes?: Uint8Array } = {}
const large = Step.make({
  name: "large_output",
  input: Schema.Int,
  output: Schema.Uint8Array,
  run: () => Effect.sync(() => {
    if (produced.bytes === undefined) throw new Error("read mode expected a hit, but the step ran")
    return produced.bytes
  })
})

const report = (ms: number, extra: object) =>
  process.stdout.write(`${JSON.stringify({ mode, ms, mbps: size / MB / (ms / 1000), ...extra })}\n`)

if (mode === "floor-write") {
  const bytes = produce()
  const start = performance.now()
  const fd = openSync(floorFile, "w")
  for (let at = 0; at < size; at += 1 << 24) writeSync(fd, bytes, at, Math.min(1 << 24, size - at))
  fsyncSync(fd)
  closeSync(fd)
  report(performance.now() - start, {})
} else if (mode === "floor-read") {
  const start = performance.now()
  const bytes = readFileSync(floorFile)
  createHash("sha256").update(bytes).digest("hex")
  const ms = performance.now() - start
  if (bytes.byteLength !== size) throw new Error("the floor's file has the wrong size")
  rmSync(floorFile)
  report(ms, {})
} else {
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(Layer.provideMerge(Cache.layer(), LocalBackend.layer(dir!)), Reproducibility.layer(42))
  )
  // Open the backend before timing: the figure is the transfer, not SQLite's start-up.
  await runtime.runPromise(Effect.void)
  if (mode === "write") produced.bytes = produce()
  const before = rssMiB()
  const start = performance.now()
  const value = await runtime.runPromise(large(round))
  const ms = performance.now() - start
  const peak = peakMiB()
  if (value.byteLength !== size) throw new Error(`${mode}: ${value.byteLength} bytes, expected ${size}`)
  await runtime.dispose()
  report(ms, { rssBeforeMiB: before, peakRssMiB: peak })
}
