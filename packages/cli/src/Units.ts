/**
 * Parsing of the values of `expops cache prune --max-size 2GB --older-than 30d`.
 *
 * @since 0.1.0
 */

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 1e3,
  m: 1e6,
  g: 1e9,
  t: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4
}

/**
 * Bytes from `500MB`, `2GB`, `1.5 GiB`, `1024`; `undefined` when it is not a size.
 *
 * @since 0.1.0
 */
export const parseSize = (text: string): number | undefined => {
  const m = text.trim().match(/^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/)
  if (!m) return undefined
  const unit = SIZE_UNITS[(m[2] || "b").toLowerCase()]
  return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit)
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000
}

/**
 * Milliseconds from `30d`, `12h`, `1d12h`, `90m`; `undefined` when it is not a duration.
 *
 * @since 0.1.0
 */
export const parseDuration = (text: string): number | undefined => {
  const compact = text.trim().replace(/\s+/g, "")
  if (!/^(\d+(?:\.\d+)?[a-zA-Z]+)+$/.test(compact)) return undefined
  let total = 0
  for (const m of compact.matchAll(/(\d+(?:\.\d+)?)([a-zA-Z]+)/g)) {
    const unit = DURATION_UNITS[m[2]!.toLowerCase()]
    if (unit === undefined) return undefined
    total += Number(m[1]) * unit
  }
  return total
}
