/**
 * Side-by-side rounds for contenders that measure themselves.
 *
 * `bench/harness.ts` times one call of each contender. Some contenders here
 * cannot be timed from outside: a batch of cache hits wants the median of
 * its own per-call timings, and joblib runs in a Python process that reports
 * its own clock. So each contender here returns its figure for one round;
 * the rounds alternate the same way (a warm-up round, then every round in a
 * rotated order), and the result is the median over rounds.
 */
import { median } from "../harness.ts"

export interface Alternated<K extends string> {
  /** Median over rounds, per contender. */
  readonly median: Record<K, number>
  /** Every round's figure, in round order (warm-up excluded). */
  readonly samples: Record<K, ReadonlyArray<number>>
}

export const alternate = async <K extends string>(
  contenders: Readonly<Record<K, (round: number) => Promise<number> | number>>,
  rounds: number,
  options?: { readonly warmup?: boolean; readonly onRound?: (round: number) => void }
): Promise<Alternated<K>> => {
  const names = Object.keys(contenders) as Array<K>
  const samples = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<K, Array<number>>
  if (options?.warmup ?? true) for (const name of names) await contenders[name](-1)
  for (let round = 0; round < rounds; round++) {
    options?.onRound?.(round)
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]!
      samples[name].push(await contenders[name](round))
    }
  }
  return {
    median: Object.fromEntries(names.map((n) => [n, median(samples[n])])) as Record<K, number>,
    samples
  }
}

/** A small deterministic PRNG (mulberry32), so every contender sees the same key sequence. */
export const prng = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` indices in `[0, size)`, the same for a given round on every contender. */
export const keysForRound = (round: number, count: number, size: number): Array<number> => {
  const next = prng(0x5eed + round * 7919)
  return Array.from({ length: count }, () => Math.floor(next() * size))
}

/** Progress and notes go to stderr, so `--json` keeps stdout to one document. */
export const log = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`)
}
