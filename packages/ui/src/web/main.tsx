/** The web UI: a page per hash route (#/, #/run/ID, #/metrics?runs=…, #/compare?runs=…, #/cache). */
import { render } from "preact"
import { useEffect, useState } from "preact/hooks"
import { CachePage } from "./CachePage.tsx"
import { ComparePage } from "./ComparePage.tsx"
import { MetricsPage } from "./MetricsPage.tsx"
import { RunPage } from "./RunPage.tsx"
import { RunsPage } from "./RunsPage.tsx"

const parse = (hash: string) => {
  const [path = "", query = ""] = hash.replace(/^#/, "").split("?", 2)
  const runs = (new URLSearchParams(query).get("runs") ?? "").split(",").filter((s) => s !== "")
  return { parts: path.split("/").filter((s) => s !== "").map(decodeURIComponent), runs }
}

const App = () => {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const onChange = () => setHash(location.hash)
    addEventListener("hashchange", onChange)
    return () => removeEventListener("hashchange", onChange)
  }, [])
  const { parts, runs } = parse(hash)
  const page = parts[0] ?? "runs"
  const link = (to: string, label: string, active: boolean) => <a href={to} class={active ? "active" : ""}>{label}</a>
  return (
    <>
      <nav>
        <strong>ExpOps</strong>
        {link("#/", "Runs", page === "runs" || page === "run")}
        {link("#/metrics", "Metrics", page === "metrics")}
        {link("#/compare", "Compare", page === "compare")}
        {link("#/cache", "Cache", page === "cache")}
      </nav>
      <main>
        {page === "run" && parts[1] !== undefined ? <RunPage id={parts[1]} /> : page === "metrics" ? <MetricsPage ids={runs} /> : page === "compare" ? (
          <ComparePage ids={runs} />
        ) : page === "cache" ? <CachePage /> : <RunsPage />}
      </main>
    </>
  )
}

render(<App />, document.getElementById("app")!)
