/**
 * Comparison 5: storing outputs on the local backend.
 *
 * - 1 KiB entries per second: step misses (trivial body), each storing a
 *   1 KiB output through core `Cache` over `@expops/backend-local`, durably
 *   (fsync of the file and its folder: the default) and with `fsync: false`,
 *   alternating; the floor is writing the same bytes to new files with
 *   `writeFileSync` and no fsync.
 * - 256 MiB outputs (32 MiB in quick mode): storing (a miss) and restoring
 *   (a hit) one `Uint8Array` output, each in a fresh Node process so that
 *   its peak memory is its own; against the floors, each in a fresh process
 *   too, alternating with them: writing the bytes with fsync, and reading
 *   them back with `readFileSync` and computing their SHA-256 (a cache that
 *   verifies what it serves cannot read for less).
 */
import { spawn } from "node:child_process"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Cache, Reproducibility, Step } from "@expops/core"
import { LocalBackend } from "@expops/backend-local"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { median, round } from "../harness.ts"
import { alternate, log } from "./alternate.ts"

export interface SmallEntries {
  readonly unit: "entries/s"
  readonly entriesPerRound: number
  readonly rounds: number
  readonly durable: number
  readonly noFsync: number
  readonly floorWriteFileSync: number
}

export interface LargeOutput {
  readonly unit: "MB/s"
  readonly mib: number
  readonly rounds: number
  readonly write: number
  readonly read: number
  /** Writing the same bytes with `writeSync` and fsync, in a fresh process. */
  readonly floorWrite: number
  /** Reading them with `readFileSync` and computing their SHA-256: a read that verifies. */
  readonly floorReadVerify: number
  /** ExpOps's throughput over the floor's (target: at least 0.9). */
  readonly writeOverFloor: number
  readonly readOverFloor: number
  /** Peak resident memory of the storing process above what it held before the call (the output itself). */
  readonly writeExtraPeakMiB: number
  /** Peak resident memory of the restoring process above its baseline: the restored output is one copy. */
  readonly readPeakMiB: number
}

export interface StoreResult {
  readonly smallEntries: SmallEntries
  readonly largeOutput: LargeOutput
  readonly notes: ReadonlyArray<string>
}

const payload = (i: number): string => String(i).padStart(8, "0").repeat(128)
const Output = Schema.Struct({ id: Schema.Int, payload: Schema.String })

const storeStep = Step.make({
  name: "store_1k",
  input: Schema.Int,
  output: Output,
  run: (id) => Effect.succeed({ id, payload: payload(id) })
})

const runtimeFor = (dir: string, fsync: boolean) =>
  ManagedRuntime.make(Layer.mergeAll(
    Layer.provideMerge(Cache.layer(), LocalBackend.layer(dir, { fsync })),
    Reproducibility.layer(42)
  ))

const child = (args: Array<string>) =>
  new Promise<any>((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(import.meta.dirname, "largeOutput.ts"), ...args])
    let out = ""
    let err = ""
    proc.stdout.on("data", (c) => (out += c))
    proc.stderr.on("data", (c) => (err += c))
    proc.on("error", reject)
    proc.on("close", (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split("\n").at(-1)!))
      else reject(new Error(`largeOutput.ts ${args[0]} exited with ${code}: ${err.trim().split("\n").slice(-3).join(" | ")}`))
    })
  })

export const smallEntries = async (options: { readonly quick: boolean; readonly workDir: string }): Promise<SmallEntries> => {
  const base = path.join(options.workDir, "store", "small")
  rmSync(base, { recursive: true, force: true })
  const perRound = options.quick ? 200 : 1_000
  const rounds = options.quick ? 3 : 7
  const durable = runtimeFor(path.join(base, "durable"), true)
  const fast = runtimeFor(path.join(base, "no-fsync"), false)
  const floorDir = path.join(base, "floor")
  mkdirSync(floorDir, { recursive: true })
  const bytes = new TextEncoder().encode(JSON.stringify({ id: 0, payload: payload(0) }))

  log(`store: ${rounds} rounds of ${perRound} stored 1 KiB entries`)
  // Each round stores new ids, so every call is a miss that stores an entry.
  const storeMany = async (runtime: typeof durable, offset: number) => {
    const start = performance.now()
    await runtime.runPromise(Effect.forEach(Array.from({ length: perRound }, (_, i) => offset + i), (i) => storeStep(i), { discard: true }))
    return perRound / ((performance.now() - start) / 1000)
  }
  let next = 0
  const small = await alternate({
    durable: () => storeMany(durable, (next += perRound)),
    noFsync: () => storeMany(fast, (next += perRound)),
    floorWriteFileSync: () => {
      const offset = (next += perRound)
      const start = performance.now()
      for (let i = 0; i < perRound; i++) writeFileSync(path.join(floorDir, `f-${offset + i}`), bytes)
      return perRound / ((performance.now() - start) / 1000)
    }
  }, rounds)
  await durable.dispose()
  await fast.dispose()
  const m = small.median
  return {
    unit: "entries/s",
    entriesPerRound: perRound,
    rounds,
    durable: round(m.durable),
    noFsync: round(m.noFsync),
    floorWriteFileSync: round(m.floorWriteFileSync)
  }
}

export const largeOutput = async (options: { readonly quick: boolean; readonly workDir: string }): Promise<LargeOutput> => {
  const mib = options.quick ? 32 : 256
  const largeRounds = options.quick ? 3 : 5
  const largeDir = path.join(options.workDir, "store", "large")
  rmSync(largeDir, { recursive: true, force: true })
  mkdirSync(largeDir, { recursive: true })
  log(`store: ${largeRounds} rounds of storing and restoring a ${mib} MiB output and of the floors, each in a fresh process`)
  const samples = { write: [] as Array<any>, read: [] as Array<any>, floorWrite: [] as Array<any>, floorRead: [] as Array<any> }
  const args = (mode: string, r: number) => [mode, largeDir, String(mib), String(r)]
  for (let r = 0; r < largeRounds; r++) {
    // The disk's speed drifts: ExpOps and its floor go first in turn.
    const writes = [["write", samples.write], ["floor-write", samples.floorWrite]] as const
    const reads = [["read", samples.read], ["floor-read", samples.floorRead]] as const
    for (const [mode, into] of r % 2 === 0 ? writes : [...writes].reverse()) into.push(await child(args(mode, r)))
    for (const [mode, into] of r % 2 === 0 ? reads : [...reads].reverse()) into.push(await child(args(mode, r)))
  }
  rmSync(largeDir, { recursive: true, force: true })
  const med = (xs: Array<any>, f: (x: any) => number) => round(median(xs.map(f)))
  const write = med(samples.write, (w) => w.mbps)
  const read = med(samples.read, (r) => r.mbps)
  const floorWrite = med(samples.floorWrite, (w) => w.mbps)
  const floorReadVerify = med(samples.floorRead, (r) => r.mbps)
  return {
    unit: "MB/s",
    mib,
    rounds: largeRounds,
    write,
    read,
    floorWrite,
    floorReadVerify,
    writeOverFloor: round(write / floorWrite),
    readOverFloor: round(read / floorReadVerify),
    writeExtraPeakMiB: med(samples.write, (w) => w.peakRssMiB - w.rssBeforeMiB),
    readPeakMiB: med(samples.read, (r) => r.peakRssMiB - r.rssBeforeMiB)
  }
}

export const run = async (options: { readonly quick: boolean; readonly workDir: string }): Promise<StoreResult> => ({
  smallEntries: await smallEntries(options),
  largeOutput: await largeOutput(options),
  notes: options.quick ? ["quick mode: large outputs of 32 MiB, not 256 MiB"] : []
})
