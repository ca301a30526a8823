/**
 * Axis ticks at "nice" values (1, 2 or 5 times a power of ten), as plotting
 * libraries place them, and their labels with as many decimals as the step
 * needs.
 */

/** The nice step for about `count` intervals over `span`. */
const niceStep = (span: number, count: number): number => {
  const raw = span / Math.max(1, count)
  const power = 10 ** Math.floor(Math.log10(raw))
  const fraction = raw / power
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power
}

export interface Axis {
  /** The domain drawn, widened to whole steps. */
  readonly min: number
  readonly max: number
  readonly ticks: ReadonlyArray<number>
  readonly step: number
}

/**
 * An axis over `[min, max]` with about `count` ticks. With `integers`, steps
 * are at least 1 (epochs are counted, not measured). A single value gets a
 * span around it.
 */
export const axis = (min: number, max: number, count: number, options?: { readonly integers?: boolean }): Axis => {
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1
    min -= pad
    max += pad
  }
  let step = niceStep(max - min, count)
  if (options?.integers) step = Math.max(1, Math.round(step))
  const lo = Math.floor(min / step + 1e-9) * step
  const hi = Math.ceil(max / step - 1e-9) * step
  const ticks: Array<number> = []
  for (let i = 0; lo + i * step <= hi + step * 1e-9; i++) ticks.push(clean(lo + i * step, step))
  return { min: lo, max: hi, ticks, step }
}

/** Removes the floating-point noise of `k * step` (0.30000000000000004). */
const clean = (value: number, step: number): number => Number(value.toFixed(decimals(step)))

const decimals = (step: number): number => Math.min(12, Math.max(0, -Math.floor(Math.log10(step) + 1e-9)))

/** A tick's label: the step's decimals, or an exponent for very large or small values. */
export const label = (value: number, step: number): string => {
  if (value === 0) return "0"
  const magnitude = Math.abs(value)
  if (magnitude >= 1e6 || magnitude < 1e-4) return value.toExponential(Math.max(0, Math.min(6, Math.round(Math.log10(magnitude / step)))))
  return value.toFixed(decimals(step))
}
