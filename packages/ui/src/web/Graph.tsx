/** The pipeline graph: dagre lays it out left to right, SVG draws it; a node is coloured by its status. */
import dagre from "@dagrejs/dagre"
import { useMemo } from "preact/hooks"
import * as Format from "./format.ts"
import type { NodeState } from "./state.ts"

const WIDTH = 190
const HEIGHT = 54

interface Layout {
  readonly width: number
  readonly height: number
  readonly nodes: ReadonlyMap<string, { readonly x: number; readonly y: number }>
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string; readonly points: ReadonlyArray<{ x: number; y: number }> }>
}

const layout = (nodes: ReadonlyArray<NodeState>): Layout => {
  const g = new dagre.graphlib.Graph()
  g.setGraph({ rankdir: "LR", nodesep: 22, ranksep: 56, marginx: 12, marginy: 12 })
  g.setDefaultEdgeLabel(() => ({}))
  const names = new Set(nodes.map((n) => n.name))
  for (const n of nodes) g.setNode(n.name, { width: WIDTH, height: HEIGHT })
  for (const n of nodes) for (const up of n.upstream) if (names.has(up)) g.setEdge(up, n.name)
  dagre.layout(g)
  const graph = g.graph()
  return {
    width: graph.width ?? 0,
    height: graph.height ?? 0,
    nodes: new Map(nodes.map((n) => [n.name, { x: g.node(n.name).x, y: g.node(n.name).y }])),
    edges: g.edges().map((e: { v: string; w: string }) => ({ from: e.v, to: e.w, points: g.edge(e).points ?? [] }))
  }
}

export const Graph = (props: {
  readonly nodes: ReadonlyArray<NodeState>
  readonly selected: string | undefined
  readonly onSelect: (name: string) => void
  /** While the run goes: the time now, for how long running nodes have been running. */
  readonly now?: number | undefined
}) => {
  // Laid out again only when the structure changes, not on every status change.
  const shape = props.nodes.map((n) => `${n.name}<${n.upstream.join(",")}`).join(";")
  const laid = useMemo(() => layout(props.nodes), [shape])
  return (
    <svg class="graph" width={laid.width} height={laid.height} viewBox={`0 0 ${laid.width} ${laid.height}`} role="img" aria-label="pipeline graph">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
        </marker>
      </defs>
      {laid.edges.map((e) => (
        <path
          key={`${e.from}->${e.to}`}
          class="edge"
          data-edge={`${e.from}->${e.to}`}
          d={e.points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x},${p.y}`).join(" ")}
          marker-end="url(#arrow)"
        />
      ))}
      {props.nodes.map((n) => {
        const at = laid.nodes.get(n.name)!
        const label = n.base !== undefined ? `${n.name}` : n.name
        return (
          <g
            key={n.name}
            class={`node status-${n.status}${props.selected === n.name ? " selected" : ""}`}
            data-node={n.name}
            data-status={n.status}
            transform={`translate(${at.x - WIDTH / 2},${at.y - HEIGHT / 2})`}
            onClick={() => props.onSelect(n.name)}
            tabIndex={0}
            onKeyDown={(e) => (e.key === "Enter" ? props.onSelect(n.name) : undefined)}
          >
            <title>{`${n.name}: ${n.status}${n.base !== undefined ? ` (branch of ${n.base})` : ""}`}</title>
            <rect width={WIDTH} height={HEIGHT} rx="7" />
            <text x="10" y="21" class="name">{label.length > 24 ? `${label.slice(0, 23)}…` : label}</text>
            <text x="10" y="41" class="detail">
              {n.status}
              {n.status === "running" && n.startedAt !== undefined && props.now !== undefined
                ? ` · ${Format.duration(Math.max(0, props.now - n.startedAt))}`
                : n.durationMs !== undefined && n.status !== "pending" && n.status !== "running"
                ? ` · ${Format.duration(n.durationMs)}`
                : ""}
            </text>
          </g>
        )
      })}
    </svg>
  )
}
