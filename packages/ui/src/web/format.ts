/** How the pages write durations, sizes, times and counts (as the CLI does, roughly). */

export const duration = (ms: number | undefined): string => {
  if (ms === undefined || !Number.isFinite(ms)) return "-"
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${ms.toFixed(0)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`
  const minutes = Math.floor(ms / 60_000)
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`
}

export const bytes = (n: number): string => {
  const units = ["B", "KB", "MB", "GB", "TB"]
  let value = n
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

export const time = (at: number): string => {
  const d = new Date(at)
  const pad = (n: number) => String(n).padStart(2, "0")
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export const counts = (byStatus: Readonly<Record<string, number>> | undefined): string => {
  const entries = Object.entries(byStatus ?? {}).filter(([, n]) => n > 0)
  return entries.length === 0 ? "none" : entries.map(([status, n]) => `${n} ${status}`).join(", ")
}

export const short = (key: string | undefined): string => (key === undefined || key === "" ? "-" : key.slice(0, 12))

export const value = (v: unknown): string => {
  if (v === undefined) return "-"
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, "")
  if (typeof v === "string") return v
  return JSON.stringify(v)
}
