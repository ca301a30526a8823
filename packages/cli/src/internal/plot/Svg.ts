/**
 * A line chart as SVG, written by hand: a white background, the title,
 * axes with ticks, tick labels and axis labels, light grid lines, one
 * `<path>` per series (one `M`/`L` command per point) and a legend naming
 * each series. Nothing else in the document is a `<path>`, so a reader (a
 * test, a script) can count lines and points.
 */
import * as Ticks from "./Ticks.ts"

export interface Series {
  readonly label: string
  /** `[x, y]`, in order of x. */
  readonly points: ReadonlyArray<readonly [number, number]>
}

export interface Chart {
  readonly title: string
  readonly subtitle?: string | undefined
  readonly xLabel: string
  readonly yLabel: string
  readonly series: ReadonlyArray<Series>
  readonly width: number
  readonly height: number
}

/** Tableau 10: distinguishable, and readable on white. */
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]

/** The fonts a rasterizer is likely to find; browsers take the first they have. */
export const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;" })[c]!)

const n = (value: number): string => String(Math.round(value * 100) / 100)

/** An estimate of a label's width at `size` px, for laying out the legend (no font metrics here). */
const textWidth = (text: string, size: number): number => text.length * size * 0.58

interface LegendItem {
  readonly x: number
  readonly y: number
}

/**
 * Where the legend goes: beside the plot when its labels are short, else
 * under it, its items flowing in rows (run ids are long; the plot keeps its width).
 */
const layoutLegend = (labels: ReadonlyArray<string>, width: number, height: number, size: number) => {
  const itemWidths = labels.map((label) => 36 + textWidth(label, size))
  const beside = Math.max(...itemWidths)
  if (beside <= width * 0.25) return { right: width - beside - 24, bottom: height - 52, items: undefined }
  const items: Array<LegendItem> = []
  let x = 72
  let row = 0
  for (const w of itemWidths) {
    if (x > 72 && x + w > width - 16) {
      x = 72
      row++
    }
    items.push({ x, y: row })
    x += w + 12
  }
  const rows = row + 1
  return { right: width - 24, bottom: height - 52 - rows * 18, items: items.map((item) => ({ x: item.x, y: height - 10 - (rows - 1 - item.y) * 18 })) }
}

export const render = (chart: Chart): string => {
  const { height, width } = chart
  const legendFont = 12
  const legend = layoutLegend(chart.series.map((s) => s.label), width, height, legendFont)
  const left = 72
  const { bottom, right } = legend
  const top = chart.subtitle === undefined ? 48 : 62

  const xs = chart.series.flatMap((s) => s.points.map(([x]) => x))
  const ys = chart.series.flatMap((s) => s.points.map(([, y]) => y))
  const xAxis = Ticks.axis(Math.min(...xs), Math.max(...xs), Math.max(2, Math.floor((right - left) / 90)), {
    integers: xs.every(Number.isInteger)
  })
  const yAxis = Ticks.axis(Math.min(...ys), Math.max(...ys), Math.max(2, Math.floor((bottom - top) / 50)))
  const px = (x: number) => left + ((x - xAxis.min) / (xAxis.max - xAxis.min)) * (right - left)
  const py = (y: number) => bottom - ((y - yAxis.min) / (yAxis.max - yAxis.min)) * (bottom - top)

  const out: Array<string> = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}">`,
    `<title>${escape(chart.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${n(width / 2)}" y="28" text-anchor="middle" font-size="18" font-weight="bold" fill="#222222">${escape(chart.title)}</text>`
  )
  if (chart.subtitle !== undefined) {
    out.push(`<text x="${n(width / 2)}" y="46" text-anchor="middle" font-size="12" fill="#555555">${escape(chart.subtitle)}</text>`)
  }
  // Grid and ticks.
  out.push(`<g class="y-axis" font-size="11" fill="#444444" text-anchor="end">`)
  for (const tick of yAxis.ticks) {
    const y = n(py(tick))
    out.push(
      `<line x1="${left}" y1="${y}" x2="${n(right)}" y2="${y}" stroke="#e6e6e6"/>`,
      `<line x1="${left - 5}" y1="${y}" x2="${left}" y2="${y}" stroke="#444444"/>`,
      `<text x="${left - 8}" y="${y}" dy="0.35em">${escape(Ticks.label(tick, yAxis.step))}</text>`
    )
  }
  out.push(`</g>`, `<g class="x-axis" font-size="11" fill="#444444" text-anchor="middle">`)
  for (const tick of xAxis.ticks) {
    const x = n(px(tick))
    out.push(
      `<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="#444444"/>`,
      `<text x="${x}" y="${bottom + 18}">${escape(Ticks.label(tick, xAxis.step))}</text>`
    )
  }
  out.push(`</g>`)
  // Axes and their labels.
  out.push(
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#444444"/>`,
    `<line x1="${left}" y1="${bottom}" x2="${n(right)}" y2="${bottom}" stroke="#444444"/>`,
    `<text x="${n((left + right) / 2)}" y="${bottom + 38}" text-anchor="middle" font-size="13" fill="#222222">${escape(chart.xLabel)}</text>`,
    `<text transform="translate(18 ${n((top + bottom) / 2)}) rotate(-90)" text-anchor="middle" font-size="13" fill="#222222">${escape(chart.yLabel)}</text>`
  )
  // The lines, then the legend.
  chart.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length]!
    const d = series.points.map(([x, y], k) => `${k === 0 ? "M" : "L"}${n(px(x))} ${n(py(y))}`).join(" ")
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"><title>${escape(series.label)}</title></path>`)
    // A series of one point draws no line: mark it.
    if (series.points.length === 1) out.push(`<circle cx="${n(px(series.points[0]![0]))}" cy="${n(py(series.points[0]![1]))}" r="3" fill="${color}"/>`)
  })
  out.push(`<g class="legend" font-size="${legendFont}" fill="#222222">`)
  chart.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length]!
    const at = legend.items?.[i]
    const y = at?.y ?? top + 8 + i * 20
    const x = at?.x ?? right + 20
    out.push(
      `<line x1="${n(x)}" y1="${y}" x2="${n(x + 22)}" y2="${y}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${n(x + 28)}" y="${y}" dy="0.35em">${escape(series.label)}</text>`
    )
  })
  out.push(`</g>`, `</svg>`, "")
  return out.join("\n")
}
