/** Text renderings of a run report: the summary after a run, the details of `runs show`. */
import type { Fanout, RunReport } from "@expops/core"
import type { Paint } from "./ansi.ts"
import * as Format from "../Format.ts"

type Report = RunReport.RunReport

const countBy = <A>(items: ReadonlyArray<A>, key: (a: A) => string): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1
  return out
}

/** Time the cache saved: what the entries served took to compute. */
export const savedMs = (report: Report): number => report.processes.reduce((n, p) => n + (p.savedMs ?? 0), 0)

/** `waited 2.1 s on another run`: a process or step found its key being computed elsewhere. */
export const waited = (ms: number): string => `waited ${Format.duration(ms)} on another run`

/** Why no step ran: the cache is the reason only when it served every process. */
const noSteps = (report: Report): string =>
  report.processes.length > 0 && report.processes.every((x) => x.status === "cached")
    ? "none ran (every process was served from the cache)"
    : "none ran"

/**
 * Where a failure happened in the user's code: the frames of its trimmed
 * stack (the message is shown beside the name), or its location alone.
 */
const frames = (failed: { readonly location?: string | undefined; readonly stack?: string | undefined }, indent: string): Array<string> => {
  const lines = failed.stack?.split("\n").filter((line) => /^\s+at /.test(line)).map((line) => `${indent}${line.trim()}`) ?? []
  return lines.length > 0 ? lines : failed.location !== undefined ? [`${indent}at ${failed.location}`] : []
}

/** A run's status, coloured. */
const statusText = (status: Report["run"]["status"], p: Paint): string =>
  status === "success" ? p.green(status) : status === "interrupted" ? p.yellow(status) : p.red(status)

/**
 * Process names in a line, a fan-out's branches shortened:
 * `evaluate_seed1 … evaluate_seed5 (5 branches of evaluate)`.
 */
export const names = (report: Report, list: ReadonlyArray<string>): string => {
  const baseOf = new Map(report.processes.map((x) => [x.name, x.base]))
  const out: Array<string> = []
  for (let i = 0; i < list.length;) {
    const base = baseOf.get(list[i]!)
    let j = i + 1
    while (base !== undefined && j < list.length && baseOf.get(list[j]!) === base) j++
    out.push(j - i >= 3 ? `${list[i]} … ${list[j - 1]} (${j - i} branches of ${base})` : list.slice(i, j).join(", "))
    i = j
  }
  return out.join(", ")
}

/** One line per fan-out layer: who opens it, over what, what it duplicates, what collapses it. */
export const layers = (fanout: ReadonlyArray<Fanout.Layer>): Array<string> =>
  fanout.map((layer) => {
    const over = layer.kind === "seed"
      ? `seed_parallelism over ${layer.values.length} seed${layer.values.length > 1 ? "s" : ""} (${layer.values.join(", ")})`
      : `data_parallelism: output ${layer.dataName} in ${layer.values.length} partitions${typeof layer.size === "number" ? "" : ` of ${layer.size!.join(", ")} rows`}`
    const copies = layer.processes.length > 0 ? ` → ${layer.processes.join(", ")} once per branch` : ""
    const collapsed = layer.aggregatedBy.length > 0 ? `; aggregated by ${layer.aggregatedBy.join(", ")}` : "; not aggregated"
    return `${layer.opener}: ${over}${copies}${collapsed}`
  })

/** The lines printed after a run. */
export const summary = (report: Report, p: Paint, fanout: ReadonlyArray<Fanout.Layer> = []): string => {
  const { run } = report
  const lines: Array<string> = []
  const steps = report.processes.flatMap((proc) => proc.steps)
  const status = run.dryRun ? p.cyan("dry run") : statusText(run.status, p)
  lines.push(`${p.bold(`run ${run.id}`)}: ${status} in ${Format.duration(run.durationMs)} (seed ${run.seed}, backend ${run.backend})`)
  lines.push(`  processes: ${Format.counts(countBy(report.processes, (x) => x.status))}`)
  for (const line of layers(fanout)) lines.push(`  fan-out:   ${line}`)
  if (!run.dryRun) {
    lines.push(`  steps:     ${steps.length > 0 ? Format.counts(countBy(steps, (x) => x.status)) : noSteps(report)}`)
    lines.push(`  time saved by the cache: ${Format.duration(savedMs(report))}`)
    const waits = [...report.processes, ...steps].filter((x) => x.waitedMs !== undefined)
    if (waits.length > 0) {
      const total = waits.reduce((n, x) => n + x.waitedMs!, 0)
      lines.push(`  waited on other runs computing the same keys: ${waits.length} time${waits.length > 1 ? "s" : ""}, ${Format.duration(total)} in all`)
    }
    const metrics = metricsLine(report)
    if (metrics !== undefined) lines.push(`  metrics:   ${metrics}`)
  }
  if (run.dryRun) {
    // The expanded graph: every process, each branch under its own name, with what it runs after.
    lines.push(Format.table(
      report.processes.map((x) => [
        x.name,
        x.status,
        x.reason ?? (x.status === "cached" ? "an entry exists for its key" : x.error ?? ""),
        x.upstream !== undefined && x.upstream.length > 0 ? p.dim(`after ${names(report, x.upstream)}`) : ""
      ]),
      "    "
    ))
  }
  for (const proc of report.processes) {
    if (proc.status !== "failed") continue
    const step = proc.steps.find((s) => s.status === "failed")
    const failed = step ?? proc
    lines.push(p.red(`  ${proc.name} failed${step ? ` in step ${step.name}` : ""}: ${failed.error ?? proc.error ?? "unknown error"}`))
    lines.push(...frames(failed, "    "))
  }
  if (run.status === "interrupted") {
    const stopped = report.processes.filter((x) => x.status === "interrupted").map((x) => x.name)
    lines.push(p.yellow(`  interrupted${stopped.length > 0 ? ` while ${names(report, stopped)} ran` : ""}: the run is recorded, and what finished is stored; the next run resumes from it`))
  } else {
    const skipped = report.processes.filter((x) => x.status === "skipped").map((x) => x.name)
    if (skipped.length > 0) lines.push(p.yellow(`  skipped: ${names(report, skipped)} (an upstream process did not succeed)`))
  }
  return lines.join("\n")
}

/** The last value of each metric per process and step, and whether it came with an entry served from the cache. */
export const latestMetrics = (report: Report) => {
  const latest = new Map<string, { name: string; process: string; step: string | undefined; value: number; index: number; count: number; cached: boolean }>()
  for (const m of report.metrics ?? []) {
    const id = `${m.process}\0${m.step ?? ""}\0${m.name}`
    const prev = latest.get(id)
    if (prev === undefined || m.index >= prev.index) {
      latest.set(id, { name: m.name, process: m.process, step: m.step, value: m.value, index: m.index, count: (prev?.count ?? 0) + 1, cached: m.cached === true })
    } else prev.count++
  }
  return Array.from(latest.values())
}

/** `accuracy 0.9667, loss 0.0446 (cached)`: the last value of each metric, in one line. */
const metricsLine = (report: Report): string | undefined => {
  const metrics = latestMetrics(report)
  if (metrics.length === 0) return undefined
  const allCached = metrics.every((m) => m.cached)
  const items = metrics.map((m) => `${m.name} ${formatValue(m.value)}${m.cached && !allCached ? " (cached)" : ""}`)
  return `${items.join(", ")}${allCached ? " (all from the cache)" : ""}`
}

const formatValue = (v: number): string => (Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? v.toFixed(4) : v.toExponential(3))

/** The full account of one run, for `runs show`. */
export const details = (report: Report, p: Paint): string => {
  const { run } = report
  const lines: Array<string> = []
  lines.push(`${p.bold(`run ${run.id}`)}  ${statusText(run.status, p)}`)
  lines.push(`  pipeline ${run.pipeline} · started ${Format.timestamp(run.startedAt)} · took ${Format.duration(run.durationMs)} · seed ${run.seed} · backend ${run.backend}`)
  lines.push(`  time saved by the cache: ${Format.duration(savedMs(report))}`)
  lines.push("")
  const rows: Array<Array<string>> = [["PROCESS / STEP", "STATUS", "DURATION", "KEY", ""]]
  for (const proc of report.processes) {
    // Cluster runs: where it ran and how long it waited for it.
    const note = [
      proc.runner !== undefined ? `on ${proc.runner}, queued ${Format.duration(proc.queuedMs ?? 0)}` : "",
      proc.waitedMs !== undefined ? waited(proc.waitedMs) : "",
      proc.status === "cached" ? `saved ${Format.duration(proc.savedMs ?? 0)}` : proc.error ?? ""
    ].filter((x) => x !== "").join(", ")
    rows.push([proc.name, proc.status, Format.duration(proc.durationMs), Format.short(proc.key) || "-", note])
    for (const step of proc.steps) {
      const stepNote = [step.waitedMs !== undefined ? waited(step.waitedMs) : "", step.error ?? ""].filter((x) => x !== "").join(", ")
      rows.push([`  ${step.name}`, step.status, Format.duration(step.durationMs), Format.short(step.key), stepNote])
    }
  }
  lines.push(Format.table(rows, "  "))
  // The failure in full below the table: which step, the error, and where in the user's code.
  for (const proc of report.processes) {
    if (proc.status !== "failed") continue
    const step = proc.steps.find((s) => s.status === "failed")
    const failed = step ?? proc
    lines.push("", p.red(`  ${proc.name}${step ? `/${step.name}` : ""} failed: ${failed.error ?? proc.error ?? "unknown error"}`), ...frames(failed, "    "))
  }
  const metrics = latestMetrics(report)
  if (metrics.length > 0) {
    lines.push("")
    lines.push(Format.table([
      ["METRIC", "PROCESS / STEP", "LAST VALUE", "AT INDEX", "VALUES", "LOGGED"],
      ...metrics.map((m) => [
        m.name,
        `${m.process}${m.step ? `/${m.step}` : ""}`,
        formatValue(m.value),
        String(m.index),
        String(m.count),
        m.cached ? "by the cached entry" : "in this run"
      ])
    ], "  "))
  }
  return lines.join("\n")
}
