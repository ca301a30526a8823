/**
 * Human-readable durations, sizes and tables for terminal output.
 *
 * @since 0.1.0
 */

/**
 * `412 ms`, `1.24 s`, `2 min 5 s`.
 *
 * @since 0.1.0
 */
export const duration = (ms: number): string => {
  if (ms === 0) return "0 ms"
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`
}

const UNITS = ["B", "KB", "MB", "GB", "TB"] as const

/**
 * Decimal units, as `--max-size` reads them: `1.5 MB`.
 *
 * @since 0.1.0
 */
export const bytes = (n: number): string => {
  let value = n
  let unit = 0
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`
}

/**
 * `2026-11-26 23:32:04` in local time.
 *
 * @since 0.1.0
 */
export const timestamp = (epochMs: number): string => {
  const d = new Date(epochMs)
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/**
 * The first characters of a key or digest, enough to tell entries apart.
 *
 * @since 0.1.0
 */
export const short = (hex: string): string => (hex.length > 12 ? hex.slice(0, 12) : hex)

/**
 * Visible length of a string that may hold ANSI colour codes.
 *
 * @since 0.1.0
 */
export const visibleLength = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, "").length

/**
 * Aligns rows into columns separated by two spaces; the last column is not padded.
 *
 * @since 0.1.0
 */
export const table = (rows: ReadonlyArray<ReadonlyArray<string>>, indent = ""): string => {
  const widths: Array<number> = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))))
  return rows
    .map((row) =>
      indent +
      row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat(widths[i]! - visibleLength(cell)))).join("  ").trimEnd()
    )
    .join("\n")
}

/**
 * `3 executed, 1 cached` from counts by status, in a stable order.
 *
 * @since 0.1.0
 */
export const counts = (byStatus: Readonly<Record<string, number>>): string => {
  const order = ["executed", "cached", "would-run", "failed", "skipped"]
  const keys = Object.keys(byStatus).sort((a, b) => (order.indexOf(a) + 99) % 99 - (order.indexOf(b) + 99) % 99)
  const parts = keys.filter((k) => (byStatus[k] ?? 0) > 0).map((k) => `${byStatus[k]} ${k}`)
  return parts.length === 0 ? "none" : parts.join(", ")
}
