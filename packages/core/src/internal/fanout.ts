/**
 * The expansion of a pipeline's fan-outs into branches (see `Fanout`).
 *
 * It runs on the validated graph of processes, in topological order, in
 * three passes: each process's settings are checked; each process is given
 * its **stack**, the open layers it sits in (what its upstream processes
 * leave open, minus what it aggregates), and what it leaves open to its
 * dependents (its stack plus the layers it opens); then every process is
 * copied once per combination of the branches of its stack, its inputs wired
 * to the copies of its upstream processes that share its branches (or, for
 * an aggregation, to all of them, as records). Branch counts are checked
 * before anything is copied, so a fan-out too large costs nothing.
 */
import type * as Fanout from "../Fanout.ts"
import { recordDepth, splittable } from "../Fanout.ts"
import type { Node, Source } from "../Pipeline.ts"
import type { Problem, Setting } from "../PipelineError.ts"
import type * as Process from "../Process.ts"
import type { Branch } from "../RunReport.ts"

interface Layer {
  readonly id: number
  readonly kind: Fanout.Kind
  readonly opener: string
  readonly labels: ReadonlyArray<string>
  readonly values: ReadonlyArray<number>
  readonly dataName: string | undefined
  readonly size: number | ReadonlyArray<number> | undefined
  readonly at: string | undefined
}

/** A process's settings, checked. */
interface Checked {
  readonly seeds: ReadonlyArray<number> | undefined
  readonly data: { readonly size: number | ReadonlyArray<number>; readonly dataName: string } | undefined
  readonly aggregates: ReadonlyArray<Fanout.Kind>
  readonly at: { readonly seed: string | undefined; readonly data: string | undefined }
}

export interface Input {
  readonly processes: ReadonlyMap<string, Process.Any>
  /** Topological order of the processes. */
  readonly order: ReadonlyArray<string>
  readonly upstream: ReadonlyMap<string, ReadonlyArray<string>>
  /** Per process, the upstream process that provides each input. */
  readonly sources: ReadonlyMap<string, Readonly<Record<string, string>>>
  readonly parameters: ReadonlyMap<string, unknown>
  readonly settings: ReadonlyMap<string, Fanout.Settings>
  readonly maxBranches: number
}

export type Output =
  | { readonly problems: ReadonlyArray<Problem>; readonly nodes?: undefined; readonly layers?: undefined }
  | { readonly problems: readonly []; readonly nodes: ReadonlyArray<Node>; readonly layers: ReadonlyArray<Fanout.Layer> }

const SETTING = { seed: "seed_parallelism", data: "data_parallelism" } as const
const KIND_NAME = { seed: "seed parallelism", data: "data parallelism" } as const

const setting = (process: string, kind: Fanout.Kind, key?: Setting["key"]): Setting => ({
  process,
  name: SETTING[kind],
  ...(key !== undefined ? { key } : {})
})

const isInt = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n)

const outputNames = (p: Process.Any): Array<string> => Object.keys(p.outputs.fields)

/** Checks what one process declares; pushes a problem for each thing wrong. */
const check = (process: Process.Any, settings: Fanout.Settings, problems: Array<Problem>): Checked => {
  const name = process.name
  const problem = (code: Problem["code"], kind: Fanout.Kind, key: Setting["key"] | undefined, message: string) =>
    problems.push({ code, processes: [name], message: `${SETTING[kind]} of ${name}: ${message}`, setting: setting(name, kind, key) })
  const aggregates: Array<Fanout.Kind> = []
  let seeds: ReadonlyArray<number> | undefined
  const seed = settings.seed
  if (seed !== undefined) {
    if (seed.aggregation === true) aggregates.push("seed")
    if (seed.seeds !== undefined) {
      const list = typeof seed.seeds === "number" ? [seed.seeds] : seed.seeds
      const bad = list.filter((s) => !isInt(s))
      if (list.length === 0) {
        problem("empty-seeds", "seed", "seeds", "the seed list is empty; give at least one seed, e.g. seeds: [1, 2, 3]")
      } else if (bad.length > 0) {
        problem("bad-fanout", "seed", "seeds", `seeds must be integers, found ${bad.map(String).join(", ")}`)
      } else {
        const seen = new Set<number>()
        const repeated = [...new Set(list.filter((s) => seen.size === seen.add(s).size))]
        if (repeated.length > 0) {
          problem("duplicate-seeds", "seed", "seeds", `seed${repeated.length > 1 ? "s" : ""} ${repeated.join(", ")} listed more than once; each seed is one branch`)
        } else seeds = list
      }
    } else if (seed.aggregation !== true) {
      problem("bad-fanout", "seed", undefined, "give seeds (to fan out) or aggregation: true (to collapse the open seed layer)")
    }
  }
  let data: Checked["data"]
  const d = settings.data
  if (d !== undefined) {
    if (d.aggregation === true) aggregates.push("data")
    if (d.size !== undefined) {
      const ok = typeof d.size === "number" ? isInt(d.size) && d.size >= 1 : d.size.length > 0 && d.size.every((n) => isInt(n) && n >= 1)
      if (!ok) {
        problem(
          "bad-fanout",
          "data",
          "size",
          `size must be a number of partitions (an integer ≥ 1) or a non-empty list of row counts (integers ≥ 1), found ${JSON.stringify(d.size)}`
        )
      }
      const outputs = outputNames(process)
      const describe = (o: string) => `${o} (${splittable(process.outputs.fields[o] as any).type})`
      let dataName: string | undefined
      if (d.dataName !== undefined) {
        if (!outputs.includes(d.dataName)) {
          problem("unknown-data-name", "data", "data_name", `data_name ${d.dataName} is not an output of ${name} (outputs: ${outputs.join(", ") || "none"})`)
        } else if (!splittable(process.outputs.fields[d.dataName] as any).ok) {
          problem(
            "not-splittable",
            "data",
            "data_name",
            `output ${describe(d.dataName)} cannot be split into partitions: only arrays and typed arrays can`
          )
        } else dataName = d.dataName
      } else {
        const candidates = outputs.filter((o) => splittable(process.outputs.fields[o] as any).ok)
        if (candidates.length === 1) dataName = candidates[0]
        else if (candidates.length === 0) {
          problem(
            "not-splittable",
            "data",
            "size",
            `${name} has no output that can be split into partitions (only arrays and typed arrays can; outputs: ${outputs.map(describe).join(", ") || "none"})`
          )
        } else {
          problem("unknown-data-name", "data", "size", `${name} has several outputs that could be split (${candidates.join(", ")}): name one with data_name`)
        }
      }
      if (ok && dataName !== undefined) data = { size: d.size, dataName }
    } else if (d.dataName !== undefined) {
      problem("bad-fanout", "data", "data_name", `data_name ${d.dataName} names the output to split, which needs size (a number of partitions or a list of row counts)`)
    } else if (d.aggregation !== true) {
      problem("bad-fanout", "data", undefined, "give size (to fan out) or aggregation: true (to collapse the open data layer)")
    }
  }
  return { seeds, data, aggregates, at: { seed: seed?.at, data: d?.at } }
}

const describeLayer = (l: Layer): string =>
  `the ${KIND_NAME[l.kind]} of ${l.opener} (${l.labels.length} ${l.kind === "seed" ? "seeds" : "partitions"})`

const branchName = (base: string, layers: ReadonlyArray<Layer>, path: ReadonlyArray<number>): string => {
  let name = base
  for (let i = 0; i < layers.length; i++) name += `_${layers[i]!.labels[path[i]!]}`
  return name
}

/** Every path through the branches of `layers`, in row-major order (the last layer varies fastest). */
const paths = (layers: ReadonlyArray<Layer>): Array<Array<number>> => {
  let out: Array<Array<number>> = [[]]
  for (const layer of layers) {
    const next: Array<Array<number>> = []
    for (const path of out) for (let i = 0; i < layer.labels.length; i++) next.push([...path, i])
    out = next
  }
  return out
}

/** The index of `path` among `paths(layers)`. */
const flat = (layers: ReadonlyArray<Layer>, path: ReadonlyArray<number>): number => {
  let index = 0
  for (let i = 0; i < layers.length; i++) index = index * layers[i]!.labels.length + path[i]!
  return index
}

const isPrefix = (a: ReadonlyArray<Layer>, b: ReadonlyArray<Layer>): boolean => a.length <= b.length && a.every((l, i) => l === b[i])

export const expand = (input: Input): Output => {
  const problems: Array<Problem> = []
  const checked = new Map<string, Checked>()
  for (const [name, settings] of input.settings) {
    const process = input.processes.get(name)
    if (process === undefined) {
      const kind: Fanout.Kind = settings.seed !== undefined ? "seed" : "data"
      problems.push({
        code: "unknown-process",
        processes: [name],
        message: `${SETTING[kind]} is given for unknown process ${name} (known: ${Array.from(input.processes.keys()).join(", ")})`,
        setting: setting(name, kind)
      })
      continue
    }
    checked.set(name, check(process, settings, problems))
  }
  if (problems.length > 0) return { problems }

  // The layers each process sits in, and those it leaves open to its dependents.
  const stack = new Map<string, ReadonlyArray<Layer>>()
  const open = new Map<string, ReadonlyArray<Layer>>()
  const collapsed = new Map<string, ReadonlyArray<Layer>>()
  const layers: Array<Layer> = []
  for (const name of input.order) {
    const c = checked.get(name)
    let incoming: ReadonlyArray<Layer> = []
    let from = ""
    for (const up of input.upstream.get(name)!) {
      const theirs = open.get(up)!
      if (isPrefix(incoming, theirs)) {
        incoming = theirs
        from = up
      } else if (!isPrefix(theirs, incoming)) {
        const a = incoming.find((l, i) => theirs[i] !== l) ?? incoming[incoming.length - 1]!
        const b = theirs.find((l, i) => incoming[i] !== l) ?? theirs[theirs.length - 1]!
        problems.push({
          code: "mixed-branches",
          processes: [...new Set([name, from, up])],
          message: `process ${name} takes branches of two fan-outs that are not nested: ${describeLayer(a)} (through ${from})` +
            ` and ${describeLayer(b)} (through ${up}); aggregate one of them before ${name}`
        })
      }
    }
    let own = incoming
    if (c !== undefined && c.aggregates.length > 0) {
      const k = c.aggregates.length
      const innermost = incoming.slice(Math.max(0, incoming.length - k))
      const kinds = innermost.map((l) => l.kind)
      const key = (kind: Fanout.Kind) => setting(name, kind, "aggregation")
      const first = c.aggregates[0]!
      if (incoming.length === 0) {
        problems.push({
          code: "aggregation-without-layer",
          processes: [name],
          message: `${c.aggregates.map((kind) => SETTING[kind]).join(" and ")} of ${name}: aggregation, but no ${
            c.aggregates.map((kind) => KIND_NAME[kind]).join(" or ")
          } is open upstream of ${name} (no process it depends on has ${
            c.aggregates.map((kind) => (kind === "seed" ? "seed_parallelism.seeds" : "data_parallelism.size")).join(" or ")
          })`,
          setting: key(first)
        })
      } else if (kinds.length < k || !c.aggregates.every((kind) => kinds.includes(kind))) {
        const wanted = c.aggregates.find((kind) => !kinds.includes(kind)) ?? first
        const opened = incoming.find((l) => l.kind === wanted)
        const last = incoming[incoming.length - 1]!
        problems.push({
          code: opened === undefined ? "aggregation-without-layer" : "aggregation-order",
          processes: [...new Set([name, ...(opened ? [opened.opener] : []), last.opener])],
          message: opened === undefined
            ? `${SETTING[wanted]} of ${name}: aggregation, but no ${KIND_NAME[wanted]} is open upstream of ${name} (open: ${incoming.map(describeLayer).join(", ")})`
            : `${SETTING[wanted]} of ${name}: aggregation collapses only the innermost open layer, which is ${describeLayer(last)}, ` +
              `inside ${describeLayer(opened)}; aggregate ${KIND_NAME[last.kind]} first, or both here`,
          setting: key(wanted)
        })
      } else {
        own = incoming.slice(0, incoming.length - k)
        collapsed.set(name, innermost)
      }
    }
    stack.set(name, own)
    let out = own
    if (c !== undefined) {
      for (const kind of ["data", "seed"] as const) {
        const opens = kind === "data" ? c.data !== undefined : c.seeds !== undefined
        if (!opens) continue
        const outer = out.find((l) => l.kind === kind)
        if (outer !== undefined) {
          problems.push({
            code: "nested-layer",
            processes: [name, outer.opener],
            message: `${SETTING[kind]} of ${name}: ${name} is already inside ${describeLayer(outer)}; ` +
              `layers of one kind do not nest: aggregate that one first (or use the other kind)`,
            setting: setting(name, kind, kind === "seed" ? "seeds" : "size")
          })
          continue
        }
        const values = kind === "seed"
          ? c.seeds!
          : Array.from({ length: typeof c.data!.size === "number" ? c.data!.size : c.data!.size.length }, (_, i) => i + 1)
        const layer: Layer = {
          id: layers.length,
          kind,
          opener: name,
          labels: values.map((v) => `${kind}${v}`),
          values,
          dataName: kind === "data" ? c.data!.dataName : undefined,
          size: kind === "data" ? c.data!.size : undefined,
          at: c.at[kind]
        }
        layers.push(layer)
        out = [...out, layer]
      }
    }
    open.set(name, out)
  }
  if (problems.length > 0) return { problems }

  // Branch counts, before copying anything.
  const tooMany = new Map<string, { readonly layers: ReadonlyArray<Layer>; readonly count: number; readonly processes: Array<string> }>()
  for (const name of input.order) {
    const own = stack.get(name)!
    const count = own.reduce((n, l) => n * l.labels.length, 1)
    if (count <= input.maxBranches) continue
    const id = own.map((l) => l.id).join(",")
    if (!tooMany.has(id)) tooMany.set(id, { layers: own, count, processes: [] })
    tooMany.get(id)!.processes.push(name)
  }
  for (const { count, layers: own, processes } of tooMany.values()) {
    const innermost = own[own.length - 1]!
    problems.push({
      code: "too-many-branches",
      processes: [...processes, ...new Set(own.map((l) => l.opener))],
      message: `fan-out would run ${processes.join(", ")} in ${count.toLocaleString("en-US")} branches each (${
        own.map((l) => `${l.labels.length} ${l.kind === "seed" ? "seeds" : "partitions"} of ${l.opener}`).join(" × ")
      }), more than max_branches (${input.maxBranches.toLocaleString("en-US")}); ` +
        `to confirm, raise model.parameters.pipeline.max_branches to ${count} or more`,
      setting: setting(innermost.opener, innermost.kind, innermost.kind === "seed" ? "seeds" : "size")
    })
  }
  if (problems.length > 0) return { problems }

  // Names of the copies; none may take the name of another process.
  const names = new Map<string, ReadonlyArray<string>>()
  const taken = new Map<string, string>(Array.from(input.processes.keys(), (n) => [n, n]))
  for (const name of input.order) {
    const own = stack.get(name)!
    if (own.length === 0) {
      names.set(name, [name])
      continue
    }
    const copies = paths(own).map((path) => branchName(name, own, path))
    for (const copy of copies) {
      const other = taken.get(copy)
      if (other !== undefined) {
        problems.push({
          code: "branch-name-collision",
          processes: [other, name],
          message: `branch ${copy} of ${name} would have the name of ${other === copy ? "process" : "a branch of"} ${other}; rename one of them`
        })
      } else taken.set(copy, name)
    }
    names.set(name, copies)
  }
  if (problems.length > 0) return { problems }

  const nodes: Array<Node> = []
  for (const name of input.order) {
    const process = input.processes.get(name)!
    const own = stack.get(name)!
    const incoming = [...own, ...(collapsed.get(name) ?? [])]
    const c = checked.get(name)
    const sources = input.sources.get(name)!
    const ups = input.upstream.get(name)!
    const split = c?.data !== undefined ? { output: c.data.dataName, size: c.data.size, at: c.at.data } : undefined
    for (const [copy, path] of paths(own).entries()) {
      const copyOf = (up: string, full: ReadonlyArray<number>) => names.get(up)![flat(stack.get(up)!, full)]!
      // The copies of `up` that share this copy's branches: one, or for an aggregation one per collapsed branch.
      const upstream: Array<string> = []
      for (const up of ups) {
        const theirs = stack.get(up)!
        if (theirs.length <= own.length) upstream.push(copyOf(up, path))
        else for (const extra of paths(incoming.slice(own.length, theirs.length))) upstream.push(copyOf(up, [...path, ...extra]))
      }
      const inputs: Record<string, Source> = {}
      const recipeSources: Record<string, string> = {}
      for (const [inputName, up] of Object.entries(sources)) {
        const theirs = stack.get(up)!
        const splits = checked.get(up)?.data?.dataName === inputName
        const depth = theirs.length + (splits ? 1 : 0)
        const leaf = (full: ReadonlyArray<number>): Source => ({
          _tag: "Output",
          node: copyOf(up, full),
          output: inputName,
          partition: splits ? full[theirs.length]! + 1 : undefined
        })
        if (depth <= own.length) {
          inputs[inputName] = leaf(path)
          recipeSources[inputName] = copyOf(up, path)
          continue
        }
        // An aggregation's input from the branches it collapses: a record keyed by branch, data before seed.
        const recordLayers = incoming.slice(own.length, depth)
          .map((layer, i) => ({ layer, position: own.length + i }))
          .sort((a, b) => (a.layer.kind === b.layer.kind ? 0 : a.layer.kind === "data" ? -1 : 1))
        const build = (level: number, full: Array<number>): Source => {
          if (level === recordLayers.length) return leaf(full)
          const { layer, position } = recordLayers[level]!
          return {
            _tag: "Record",
            entries: layer.labels.map((label, i) => {
              const next = full.slice()
              next[position] = i
              return [label, build(level + 1, next)] as const
            })
          }
        }
        inputs[inputName] = build(0, [...path, ...incoming.slice(own.length, depth).map(() => 0)])
        const declared = recordDepth(process.inputs.fields[inputName] as any)
        if (copy === 0 && declared !== recordLayers.length) {
          const shape = recordLayers.map(({ layer }) => (layer.kind === "data" ? "partition" : "seed")).join(", then ")
          const helper = recordLayers.reduceRight((inner, { layer }) => `Fanout.${layer.kind === "data" ? "byData" : "bySeed"}(${inner})`, "…")
          problems.push({
            code: "aggregation-input",
            processes: [name, up],
            message: `input ${inputName} of ${name} receives the output ${inputName} of every branch of ${up}, as a record by ${shape} ` +
              `({ ${recordLayers.map(({ layer }) => `${layer.labels[0]}: `).join("{ ")}…${" }".repeat(recordLayers.length)}), ` +
              `but its schema declares ${declared === 0 ? "no record by branch" : `${declared} level${declared > 1 ? "s" : ""} of records`}: declare it ${helper}`,
            setting: setting(name, recordLayers[recordLayers.length - 1]!.layer.kind, "aggregation")
          })
        }
        recipeSources[inputName] = `${up} (${recordLayers.map(({ layer }) => layer.labels.length).reduce((a, b) => a * b, 1)} branches)`
      }
      let branch: Branch | undefined
      let rootSeed: number | undefined
      if (own.length > 0) {
        const b: { seed?: number; partition?: number } = {}
        own.forEach((layer, i) => {
          if (layer.kind === "seed") b.seed = rootSeed = layer.values[path[i]!]!
          else b.partition = path[i]! + 1
        })
        branch = b
      }
      nodes.push({
        name: own.length === 0 ? name : names.get(name)![flat(own, path)]!,
        base: name,
        process,
        branch,
        rootSeed,
        inData: own.some((l) => l.kind === "data"),
        upstream,
        inputs,
        sources: recipeSources,
        parameters: input.parameters.get(name),
        split
      })
    }
  }
  if (problems.length > 0) return { problems }
  return {
    problems: [],
    nodes,
    layers: layers.map((l) => ({
      kind: l.kind,
      opener: l.opener,
      labels: l.labels,
      values: l.values,
      ...(l.dataName !== undefined ? { dataName: l.dataName, size: l.size } : {}),
      processes: input.order.filter((n) => stack.get(n)!.includes(l)),
      aggregatedBy: input.order.filter((n) => collapsed.get(n)?.includes(l) ?? false),
      ...(l.at !== undefined ? { at: l.at } : {})
    }))
  }
}
