/** The cache's entries by name, and one entry explained. Read-only: nothing here removes or touches an entry. */
import { useEffect, useState } from "preact/hooks"
import * as Api from "./api.ts"
import * as Format from "./format.ts"

export const CachePage = () => {
  const [entries, setEntries] = useState<ReadonlyArray<Api.Entry> | undefined>(undefined)
  const [error, setError] = useState<string | undefined>(undefined)
  const [filter, setFilter] = useState("")
  const [chosen, setChosen] = useState<string | undefined>(undefined)
  const [explained, setExplained] = useState<string | undefined>(undefined)
  useEffect(() => void Api.cache().then(setEntries, (e: Error) => setError(e.message)), [])
  useEffect(() => {
    setExplained(undefined)
    if (chosen !== undefined) Api.entry(chosen).then((e) => setExplained(e.text), (e: Error) => setExplained(`cannot explain: ${e.message}`))
  }, [chosen])
  if (error !== undefined) return <p class="error">{error}</p>
  if (entries === undefined) return <p class="muted">loading the cache…</p>
  const shown = entries
    .filter((e) => e.name.includes(filter))
    .slice()
    .sort((a, b) => a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind) || b.createdAt - a.createdAt)
  const total = entries.reduce((n, e) => n + e.size, 0)
  return (
    <section>
      <h1>Cache</h1>
      <div class="toolbar">
        <input placeholder="filter by name" value={filter} onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)} />
        <span class="muted">{entries.length} entries, {Format.bytes(total)}</span>
      </div>
      <div class="split">
        <table class="cache">
          <thead>
            <tr><th>name</th><th>kind</th><th>size</th><th>created</th><th>last used</th><th>key</th></tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.key} data-key={e.key} class={chosen === e.key ? "selected" : ""} onClick={() => setChosen(e.key)}>
                <td>{e.name}</td>
                <td>{e.kind}</td>
                <td>{Format.bytes(e.size)}</td>
                <td>{Format.time(e.createdAt)}</td>
                <td>{Format.time(e.lastAccessAt)}</td>
                <td><code>{Format.short(e.key)}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
        <pre class="explain" data-explain>{chosen === undefined ? "pick an entry for its recipe and what changed since the nearest earlier entry of its name" : explained ?? "…"}</pre>
      </div>
    </section>
  )
}
