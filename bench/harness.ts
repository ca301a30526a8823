/**
 * Benchmark helpers: contenders measured side by side, alternating, over
 * several rounds; medians and ratios reported. Never used by tests.
 */
import { performance } from "node:perf_hooks"

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
