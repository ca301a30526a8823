/** A line chart of one metric, one line per run, drawn by uPlot. */
import { useEffect, useRef } from "preact/hooks"
import uPlot from "uplot"

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]

export interface Series {
  readonly label: string
  /** [index, value] pairs, in index order. */
  readonly points: ReadonlyArray<readonly [number, number]>
}

/** The x values of all series, and each series' y at each (null where it logged none). */
const align = (series: ReadonlyArray<Series>): uPlot.AlignedData => {
  const xs = [...new Set(series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b)
  const at = new Map(xs.map((x, i) => [x, i]))
  const ys = series.map((s) => {
    const y: Array<number | null> = xs.map(() => null)
    for (const [x, v] of s.points) y[at.get(x)!] = v
    return y
  })
  return [xs, ...ys] as uPlot.AlignedData
}

export const Chart = (props: { readonly title: string; readonly metric: string; readonly series: ReadonlyArray<Series> }) => {
  const box = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const element = box.current
    if (element === null) return
    const plot = new uPlot(
      {
        title: props.title,
        width: Math.max(320, element.clientWidth || 640),
        height: 260,
        scales: { x: { time: false } },
        axes: [{ label: "index" }, {}],
        series: [
          { label: "index" },
          ...props.series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length]!, width: 2, spanGaps: true, points: { show: s.points.length <= 60 && props.series.length <= 4 } }))
        ]
      },
      align(props.series),
      element
    )
    return () => plot.destroy()
  }, [props.title, JSON.stringify(props.series)])
  return (
    <div
      class="chart"
      ref={box}
      data-metric={props.metric}
      data-series={props.series.length}
      data-points={props.series.map((s) => s.points.length).join(",")}
    />
  )
}
