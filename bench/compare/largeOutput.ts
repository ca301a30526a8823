/**
 * Stores or restores one large step output in a fresh Node process, so the
 * peak memory it reports (`maxRSS`, a high-water mark) belongs to that one
 * operation. Run by bench/compare/store.ts:
 *
 *   node bench/compare/largeOutput.ts write|read DIR MIB ROUND
 *
 * `write` allocates the output first, then measures the step call that
 * stores it (a miss); `read` measures the step call that restores it (a hit).
 * Both also time the floor: writing the same bytes with `writeFileSync` and
 * fsync, reading them with `readFileSync`. Prints one JSON line.
 */
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Cache, Reproducibility, Step } from "@expops/core"
import { LocalBackend } from "@expops/backend-local"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"

const [mode, dir, mib, roundArg] = process.argv.slice(2)
const size = Number(mib) * 1024 * 1024
const round = Number(roundArg)
const MB = 1e6

const fill = (bytes: Uint8Array, seed: number) => {
  // Distinct content per round, so each round stores a new blob.
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2)
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
}

let produced: Uint8Array | undefined
const large = Step.make({
  name: "large_output",
  input: Schema.Int,
  output: Schema.Uint8Array,
  run: () => Effect.sync(() => {
    if (produced === undefined) throw new Error("read mode expected a hit, but the step ran")
    return produced
  })
})

const runtime = ManagedRuntime.make(
  Layer.mergeAll(Layer.provideMerge(Cache.layer(), LocalBackend.layer(dir!)), Reproducibility.layer(42))
)
// Open the backend before timing: the figure is the transfer, not SQLite's start-up.
await runtime.runPromise(Effect.void)
const MiB = 1024 * 1024
const rssMiB = () => process.memoryUsage().rss / MiB
/** The process's peak resident memory so far (`maxRSS` is in KiB). */
const peakMiB = () => process.resourceUsage().maxRSS / 1024

const floorFile = path.join(dir!, `floor-${round}.bin`)

if (mode === "write") {
  produced = new Uint8Array(size)
  fill(produced, round + 1)
  const before = rssMiB()
  const start = performance.now()
  await runtime.runPromise(large(round))
  const ms = performance.now() - start
  const peak = peakMiB()
  const floorStart = performance.now()
  const fd = openSync(floorFile, "w")
  for (let at = 0; at < size; at += 1 << 24) writeSync(fd, produced, at, Math.min(1 << 24, size - at))
  fsyncSync(fd)
  closeSync(fd)
  const floorMs = performance.now() - floorStart
  process.stdout.write(`${JSON.stringify({ mode, ms, mbps: size / MB / (ms / 1000), rssBeforeMiB: before, peakRssMiB: peak, floorMbps: size / MB / (floorMs / 1000) })}\n`)
} else {
  const before = rssMiB()
  const start = performance.now()
  const value = await runtime.runPromise(large(round))
  const ms = performance.now() - start
  const peak = peakMiB()
  if (value.byteLength !== size) throw new Error(`restored ${value.byteLength} bytes, expected ${size}`)
  const floorStart = performance.now()
  const floor = readFileSync(floorFile)
  const floorMs = performance.now() - floorStart
  if (floor.byteLength !== size) throw new Error("floor file has the wrong size")
  rmSync(floorFile)
  process.stdout.write(`${JSON.stringify({ mode, ms, mbps: size / MB / (ms / 1000), rssBeforeMiB: before, peakRssMiB: peak, floorMbps: size / MB / (floorMs / 1000) })}\n`)
}
await runtime.dispose()
