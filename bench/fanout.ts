/**
 * Fan-out: what expanding a pipeline into seed branches costs, and a fully
 * cached run of the expanded pipeline.
 *
 * The pipeline: `root` opens seed parallelism over 100 seeds; 10 processes
 * in a chain after it are copied once per seed (1,000 branches); `summary`
 * aggregates them (1,002 processes in all).
 *
 * - plan: `Pipeline.plan` with the fan-out (expanding and validating it)
 *   against the same 12 processes without it, alternating; the difference is
 *   the expansion's overhead;
 * - cached run: `Pipeline.run` with every one of the 1,002 processes a hit,
 *   on the in-memory store and on the local backend (opened per run, as a
 *   script would), against the 12 processes without the fan-out; per process,
 *   a branch's hit should cost what any process's hit costs.
 *
 * Run: `npx node bench/fanout.ts [--quick]`, or all benchmarks with `npm run bench`.
 */
import { rmSync } from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Cache, Fanout, Pipeline, Process, Reproducibility } from "@expops/core"
import { TestLayers } from "@expops/core/testing"
import { LocalBackend } from "@expops/backend-local"
import { Effect, Layer, Schema } from "effect"
import { median, round } from "./harness.ts"
import { alternate } from "./compare/alternate.ts"

export const SEEDS = 100
export const CHAIN = 10

const root = Process.make({
  name: "root",
  outputs: { out_root: Schema.Int },
  run: () => Effect.succeed({ out_root: 1 })
})

const chain = Array.from({ length: CHAIN }, (_, p) =>
  Process.make({
    name: `stage_${p}`,
    inputs: { [p === 0 ? "out_root" : `out_${p - 1}`]: Schema.Int } as Process.Fields,
    outputs: { [`out_${p}`]: Schema.Int } as Process.Fields,
    captures: { p },
    run: (inputs: any) => Effect.sync(() => ({ [`out_${p}`]: ((inputs[p === 0 ? "out_root" : `out_${p - 1}`] as number) * 31 + p) % 100003 }))
  }))

const summary = Process.make({
  name: "summary",
  inputs: { [`out_${CHAIN - 1}`]: Fanout.bySeed(Schema.Int) } as Process.Fields,
  outputs: { total: Schema.Int },
  run: (inputs: any) => Effect.sync(() => ({ total: Fanout.values(inputs[`out_${CHAIN - 1}`] as Record<string, number>).reduce((a, b) => a + b, 0) }))
})

const pipeline = Pipeline.make({ name: "bench-fanout", processes: [root, ...chain, summary] })

const edges = ["root stage_0", ...chain.slice(1).map((_, p) => `stage_${p} stage_${p + 1}`), `stage_${CHAIN - 1} summary`].join("\n")
const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1)
const fannedOut: Pipeline.RunOptions = {
  adjlist: edges,
  fanout: { root: { seed: { seeds } }, summary: { seed: { aggregation: true } } }
}
// Without the fan-out `summary` would receive a plain value: the comparison pipeline stops before it.
const plainPipeline = Pipeline.make({ name: "bench-fanout", processes: [root, ...chain] })
const plain: Pipeline.RunOptions = { adjlist: edges.split("\n").slice(0, -1).join("\n") }

export interface FanoutResult {
  readonly processes: { readonly plain: number; readonly expanded: number }
  readonly plan: {
    readonly unit: "ms"
    readonly plain: number
    readonly fanout: number
    /** What expanding and validating 100 seeds × 10 processes adds to planning. */
    readonly overhead: number
    readonly target: "< 20 ms"
  }
  readonly cachedRun: {
    readonly unit: "ms"
    readonly memory: { readonly fanout: number; readonly plain: number; readonly perBranchUs: number; readonly perPlainProcessUs: number }
    readonly local: { readonly fanout: number; readonly plain: number; readonly perBranchUs: number; readonly perPlainProcessUs: number }
  }
  readonly rounds: number
}

const cached = (report: { readonly processes: ReadonlyArray<{ readonly name: string; readonly status: string }> }, what: string) => {
  const other = report.processes.find((p) => p.status !== "cached")
  if (other !== undefined) throw new Error(`${what}: ${other.name} is ${other.status}, expected cached`)
  return report
}

export const run = async (options: { readonly quick: boolean; readonly workDir?: string }): Promise<FanoutResult> => {
  const rounds = options.quick ? 5 : 15
  const planRounds = options.quick ? 30 : 100

  const expanded = await Effect.runPromise(Pipeline.plan(pipeline, fannedOut))
  if (expanded.order.length !== 2 + SEEDS * CHAIN) throw new Error(`expected ${2 + SEEDS * CHAIN} processes, planned ${expanded.order.length}`)
  const plan = await alternate({
    plain: () => {
      const start = performance.now()
      Effect.runSync(Pipeline.plan(plainPipeline, plain))
      return performance.now() - start
    },
    fanout: () => {
      const start = performance.now()
      Effect.runSync(Pipeline.plan(pipeline, fannedOut))
      return performance.now() - start
    }
  }, planRounds)

  // In memory: one store for every round, so that the warm runs hit.
  const memory = await Effect.runPromise(Effect.gen(function*() {
    yield* Pipeline.run(pipeline, fannedOut)
    yield* Pipeline.run(plainPipeline, plain)
    const samples = { fanout: [] as Array<number>, plain: [] as Array<number> }
    for (let r = 0; r < rounds; r++) {
      for (const [name, p, o] of [["fanout", pipeline, fannedOut], ["plain", plainPipeline, plain]] as const) {
        const start = performance.now()
        cached(yield* Pipeline.run(p, o), `in-memory warm run (${name})`)
        samples[name].push(performance.now() - start)
      }
    }
    return { fanout: median(samples.fanout), plain: median(samples.plain) }
  }).pipe(Effect.provide(TestLayers.layer() as Layer.Layer<any>)))

  // The local backend, opened per run as `expops run` does.
  const dir = path.join(options.workDir ?? path.join(import.meta.dirname, ".work"), "fanout")
  rmSync(dir, { recursive: true, force: true })
  const onLocal = (p: Pipeline.Pipeline<never>, o: Pipeline.RunOptions) =>
    Effect.runPromise(Pipeline.run(p, o).pipe(
      Effect.provide(Layer.mergeAll(Layer.provideMerge(Cache.layer(), LocalBackend.layer(dir)), Reproducibility.layer(42)))
    ))
  await onLocal(pipeline, fannedOut)
  await onLocal(plainPipeline, plain)
  const timed = async (p: Pipeline.Pipeline<never>, o: Pipeline.RunOptions, what: string) => {
    const start = performance.now()
    cached(await onLocal(p, o), what)
    return performance.now() - start
  }
  const local = await alternate({
    fanout: () => timed(pipeline, fannedOut, "local warm run (fan-out)"),
    plain: () => timed(plainPipeline, plain, "local warm run (plain)")
  }, rounds)
  rmSync(dir, { recursive: true, force: true })

  const n = { plain: 1 + CHAIN, expanded: expanded.order.length }
  const per = (ms: number, count: number) => round((ms * 1000) / count)
  return {
    processes: n,
    plan: {
      unit: "ms",
      plain: round(plan.median.plain),
      fanout: round(plan.median.fanout),
      overhead: round(plan.median.fanout - plan.median.plain),
      target: "< 20 ms"
    },
    cachedRun: {
      unit: "ms",
      memory: {
        fanout: round(memory.fanout),
        plain: round(memory.plain),
        perBranchUs: per(memory.fanout, n.expanded),
        perPlainProcessUs: per(memory.plain, n.plain)
      },
      local: {
        fanout: round(local.median.fanout),
        plain: round(local.median.plain),
        perBranchUs: per(local.median.fanout, n.expanded),
        perPlainProcessUs: per(local.median.plain, n.plain)
      }
    },
    rounds
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await run({ quick: process.argv.includes("--quick") }), null, 2))
}
