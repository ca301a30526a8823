/**
 * One run: its graph (live while it goes) and, for the node picked, its
 * steps, parameters and `expops explain`'s explanation.
 */
import { useEffect, useRef, useState } from "preact/hooks"
import * as Api from "./api.ts"
import * as Format from "./format.ts"
import { Graph } from "./Graph.tsx"
import { useChanges } from "./live.ts"
import { apply, type NodeState, nodesOf } from "./state.ts"

export const RunPage = (props: { readonly id: string }) => {
  const [view, setView] = useState<Api.RunView | undefined>(undefined)
  const [nodes, setNodes] = useState<Array<NodeState>>([])
  const [error, setError] = useState<string | undefined>(undefined)
  const [selected, setSelected] = useState<string | undefined>(undefined)
  const seq = useRef(0)
  // While the run goes, a running node shows how long it has been running.
  const [now, setNow] = useState(Date.now())
  const going = view !== undefined && view.report === null && view.alive
  useEffect(() => {
    if (!going) return
    const timer = setInterval(() => setNow(Date.now()), 500)
    return () => clearInterval(timer)
  }, [going])

  const load = () =>
    Api.view(props.id).then(
      (v) => {
        seq.current = v.seq
        setView(v)
        setNodes(nodesOf(v))
        setError(undefined)
      },
      (e: Error) => setError(e.message)
    )

  useEffect(() => {
    setView(undefined)
    setSelected(undefined)
  }, [props.id])

  useChanges(
    (change) => {
      if (change.seq <= seq.current) return
      if (change._tag === "Progress" && change.runId === props.id) {
        seq.current = change.seq
        setNodes((current) => {
          const next = current.map((n) => ({ ...n, steps: n.steps.map((s) => ({ ...s })) }))
          apply(next, change.event, change.at)
          return next
        })
      } else if ((change._tag === "Finished" || change._tag === "Started") && change.run.id === props.id) {
        void load()
      }
    },
    () => void load(),
    [props.id]
  )

  if (error !== undefined) return <p class="error" data-error>{error}</p>
  if (view === undefined) return <p class="muted">loading run {props.id}…</p>
  const run = view.report?.run ?? view.graph!
  const status = view.report?.run.status ?? (view.alive ? "running" : "abandoned")
  const node = nodes.find((n) => n.name === selected)
  return (
    <section class="run" data-run={props.id} data-run-status={status}>
      <h1>
        {run.pipeline} <span class="muted">run {props.id}</span> <span class={`badge status-${status}`}>{status === "running" ? "LIVE" : status}</span>
      </h1>
      <p class="facts">
        started {Format.time(run.startedAt)} · seed {run.seed} · backend {run.backend}
        {view.report !== null ? ` · took ${Format.duration(view.report.run.durationMs)}` : ""}
        {status === "abandoned" ? " · the process running it is gone (killed?)" : ""}
        {" · "}<a href={`#/metrics?runs=${encodeURIComponent(props.id)}`}>metrics</a>
      </p>
      {nodes.length === 0 ? <p class="muted">this run recorded no processes</p> : (
        <div class="graph-box">
          <Graph nodes={nodes} selected={selected} onSelect={setSelected} now={going ? now : undefined} />
        </div>
      )}
      {view.graph === null ? <p class="muted">recorded before runs kept their graph: the nodes are drawn without edges</p> : null}
      {node !== undefined ? <NodePanel runId={props.id} node={node} recorded={view.report !== null} /> : (
        <p class="muted">pick a node for its steps, parameters and why it ran or was served from the cache</p>
      )}
    </section>
  )
}

const NodePanel = (props: { readonly runId: string; readonly node: NodeState; readonly recorded: boolean }) => {
  const { node } = props
  // The process, or one of its steps (PROCESS/STEP), as `expops explain` takes them.
  const [target, setTarget] = useState(node.name)
  const [explained, setExplained] = useState<string | undefined>(undefined)
  useEffect(() => setTarget(node.name), [node.name])
  useEffect(() => {
    setExplained(undefined)
    if (!props.recorded) return
    Api.explain(props.runId, target).then(
      (all) => setExplained(all.map((e) => e.text).join("\n\n")),
      (e: Error) => setExplained(`cannot explain: ${e.message}`)
    )
  }, [props.runId, target, props.recorded])
  return (
    <section class="panel" data-panel={node.name}>
      <h2>
        {node.name} <span class={`badge status-${node.status}`}>{node.status}</span>
        {node.base !== undefined ? <span class="muted"> branch of {node.base}</span> : null}
      </h2>
      <p class="facts">
        key <code>{node.key || "-"}</code> · {Format.duration(node.durationMs)}
        {node.savedMs !== undefined ? ` · saved ${Format.duration(node.savedMs)}` : ""}
      </p>
      {node.error !== undefined ? <p class="error">{node.error}{node.location !== undefined ? ` at ${node.location}` : ""}</p> : null}
      <h3>Steps</h3>
      {node.steps.length === 0 ? <p class="muted">{node.status === "cached" ? "none ran: the process was served whole from the cache" : "none"}</p> : (
        <table class="steps">
          <thead>
            <tr><th>step</th><th>status</th><th>key</th><th>duration</th><th>error</th></tr>
          </thead>
          <tbody>
            {node.steps.map((s, i) => (
              <tr
                key={i}
                data-step={s.name}
                data-status={s.status}
                class={`clickable${target === `${node.name}/${s.name}` ? " selected" : ""}`}
                title="why it ran or was served from the cache"
                onClick={() => setTarget(`${node.name}/${s.name}`)}
              >
                <td>{s.name}</td>
                <td><span class={`badge status-${s.status}`}>{s.status}</span></td>
                <td><code title={s.key}>{Format.short(s.key)}</code></td>
                <td>{Format.duration(s.durationMs)}</td>
                <td>{s.error !== undefined ? `${s.error}${s.location !== undefined ? ` at ${s.location}` : ""}` : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Parameters</h3>
      <pre class="params">{node.parameters === undefined ? "(none recorded)" : JSON.stringify(node.parameters, null, 2)}</pre>
      <h3>
        Why: <code>expops explain {target}</code>
        {target !== node.name ? <> · <button type="button" class="link" onClick={() => setTarget(node.name)}>the process</button></> : " (pick a step for its own)"}
      </h3>
      <pre class="explain" data-explain>{props.recorded ? explained ?? "…" : "available once the run is recorded"}</pre>
    </section>
  )
}
