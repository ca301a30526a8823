/**
 * Benchmark helpers: contenders measured side by side, alternating, over
 * several rounds; medians and ratios reported. Never used by tests.
 */
import { performance } from "node:perf_hooks"
import * as v8 from "node:v8"
import * as vm from "node:vm"

export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = xs.slice().sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Times one call of `f` in milliseconds. */
export const time = async (f: () => unknown): Promise<number> => {
  const start = performance.now()
  await f()
  return performance.now() - start
}

/**
 * Runs each contender once per round, in rotating order, for `rounds` rounds,
 * after one warm-up round; returns the median time per contender (ms).
 */
export const sideBySide = async <K extends string>(
  contenders: Readonly<Record<K, () => unknown>>,
  rounds: number
): Promise<Record<K, number>> => {
  const names = Object.keys(contenders) as Array<K>
  const samples = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<K, Array<number>>
  for (const name of names) await contenders[name]()
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!
      samples[name].push(await time(contenders[name]))
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n])])) as Record<K, number>
}

export const round = (x: number, digits = 3): number => Number(x.toPrecision(digits))

// A collector the benches can call between phases, so one phase's garbage
// does not count in the next one's peak.
v8.setFlagsFromString("--expose-gc")
export const gc = vm.runInNewContext("gc") as () => void

export const MiB = 1024 * 1024

/**
 * Collects, then samples memory every `everyMs` until `stop`. `stop` answers
 * the level before (bytes) and the peaks above it (bytes): what the measured
 * operation itself held. The operation must yield to the event loop now and
 * then, or the timer never gets a turn.
 */
export const sampleMemory = (everyMs: number) => {
  gc()
  const before = process.memoryUsage()
  let rss = before.rss
  let arrayBuffers = before.arrayBuffers
  const sample = () => {
    const m = process.memoryUsage()
    rss = Math.max(rss, m.rss)
    arrayBuffers = Math.max(arrayBuffers, m.arrayBuffers)
  }
  const timer = setInterval(sample, everyMs)
  return {
    before,
    stop: () => {
      clearInterval(timer)
      sample()
      return { rss: rss - before.rss, arrayBuffers: arrayBuffers - before.arrayBuffers }
    }
  }
}

/** The value after `--name` on the command line, if given. */
export const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
