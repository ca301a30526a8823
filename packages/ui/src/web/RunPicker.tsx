/** Picks the runs a metrics or compare page shows (kept in the page's address). */
import { useEffect, useState } from "preact/hooks"
import * as Api from "./api.ts"
import * as Format from "./format.ts"

export const RunPicker = (props: { readonly selected: ReadonlyArray<string>; readonly page: "metrics" | "compare" }) => {
  const [runs, setRuns] = useState<ReadonlyArray<Api.Summary>>([])
  useEffect(() => void Api.runs().then(setRuns, () => setRuns([])), [])
  const toggle = (id: string) => {
    const next = props.selected.includes(id) ? props.selected.filter((s) => s !== id) : [...props.selected, id]
    location.hash = `#/${props.page}?runs=${next.map(encodeURIComponent).join(",")}`
  }
  return (
    <details class="picker" open={props.selected.length === 0}>
      <summary>runs: {props.selected.length === 0 ? "none picked" : props.selected.join(", ")}</summary>
      <ul>
        {runs.slice(0, 30).map((r) => (
          <li key={r.id}>
            <label>
              <input type="checkbox" checked={props.selected.includes(r.id)} onChange={() => toggle(r.id)} /> {r.id}{" "}
              <span class="muted">{Format.time(r.startedAt)} · {r.status} · seed {r.seed}</span>
            </label>
          </li>
        ))}
      </ul>
    </details>
  )
}
