import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import type { RunReport } from "@expops/core"
import { Effect } from "effect"
import { XMLParser, XMLValidator } from "fast-xml-parser"
import { cli, copyProject, run, tempDir } from "./helpers.ts"

/** Every element named `name` in a parsed document, at any depth. */
const elements = (node: unknown, name: string): Array<Record<string, unknown>> => {
  if (Array.isArray(node)) return node.flatMap((child) => elements(child, name))
  if (typeof node !== "object" || node === null) return []
  return Object.entries(node).flatMap(([key, value]) =>
    key === name ? (Array.isArray(value) ? value : [value]) as Array<Record<string, unknown>> : elements(value, name)
  )
}

/** The SVG in `file`, checked to be well-formed XML, parsed with its attributes. */
const parseSvg = (file: string) => {
  const text = readFileSync(file, "utf8")
  assert.strictEqual(XMLValidator.validate(text), true, "the SVG is not well-formed XML")
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(text)
  assert.isDefined(doc.svg, "no <svg> root")
  assert.strictEqual(doc.svg.xmlns, "http://www.w3.org/2000/svg")
  return { text, doc }
}

/** The number of points a path draws: one M or L command each. */
const pointsOf = (path: Record<string, unknown>) => String(path.d).match(/[ML]/g)?.length ?? 0

const losses = (report: RunReport.RunReport) => (report.metrics ?? []).filter((m) => m.name === "loss")

const textOf = (doc: unknown) => elements(doc, "text").map((t) => String(typeof t === "object" ? (t as any)["#text"] : t))

describe("expops runs plot", () => {
  it.live("writes an SVG with one path per run, each with the run's logged points, axes, ticks, labels, a legend and a title", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const a = (yield* run(dir)).report
      const b = (yield* run(dir, "--seed", "7")).report
      const out = Path.join(tempDir(), "loss.svg")
      const result = yield* cli(["runs", "plot", dir, a.run.id, b.run.id, "--metric", "loss", "-o", out])
      assert.strictEqual(result.status, 0, result.stderr)
      assert.match(result.stdout, new RegExp(`wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: loss, 2 lines, ${losses(a).length + losses(b).length} points`))

      const { doc } = parseSvg(out)
      const paths = elements(doc, "path")
      assert.strictEqual(paths.length, 2, "one path per run")
      assert.isAbove(losses(a).length, 2)
      assert.deepStrictEqual(paths.map(pointsOf), [losses(a).length, losses(b).length])
      // Each path's tooltip and the legend name its run (and the seed, since the runs differ by it).
      assert.deepStrictEqual(paths.map((p) => p.title), [`${a.run.id} (seed 42)`, `${b.run.id} (seed 7)`])
      const texts = textOf(doc)
      assert.include(texts, "loss")
      assert.include(texts, `${a.run.id} (seed 42)`)
      assert.include(texts, `${b.run.id} (seed 7)`)
      assert.include(texts, "index (step, epoch)")
      // Ticks: numbers on both axes, the x axis spanning the epochs logged.
      const xTicks = textOf(elements(doc, "g").find((g) => g.class === "x-axis")).map(Number)
      const yTicks = textOf(elements(doc, "g").find((g) => g.class === "y-axis")).map(Number)
      assert.isAtLeast(xTicks.length, 3)
      assert.isAtLeast(yTicks.length, 3)
      const indices = losses(a).map((m) => m.index)
      assert.isAtMost(xTicks[0]!, Math.min(...indices))
      assert.isAtLeast(xTicks.at(-1)!, Math.max(...indices))
      const values = [...losses(a), ...losses(b)].map((m) => m.value)
      assert.isAtMost(yTicks[0]!, Math.min(...values))
      assert.isAtLeast(yTicks.at(-1)!, Math.max(...values))

      // Default: the last run alone.
      const last = Path.join(tempDir(), "last.svg")
      assert.strictEqual((yield* cli(["runs", "plot", dir, "--metric", "loss", "-o", last])).status, 0)
      assert.deepStrictEqual(elements(parseSvg(last).doc, "path").map((p) => p.title), [`${b.run.id}`])
      // --last N: the N latest that logged it, oldest first.
      const both = Path.join(tempDir(), "both.svg")
      assert.strictEqual((yield* cli(["runs", "plot", dir, "--last", "5", "--metric", "loss", "-o", both])).status, 0)
      assert.deepStrictEqual(elements(parseSvg(both).doc, "path").map(pointsOf), [losses(a).length, losses(b).length])
    }))

  it.live("writes a PNG: the SVG rasterized, at the size asked", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      yield* run(dir)
      const out = Path.join(tempDir(), "loss.png")
      const result = yield* cli(["runs", "plot", dir, "--metric", "loss", "-o", out, "--width", "640", "--height", "400"])
      assert.strictEqual(result.status, 0, result.stderr)
      const png = readFileSync(out)
      assert.deepStrictEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "PNG signature")
      assert.strictEqual(png.subarray(12, 16).toString("latin1"), "IHDR")
      assert.deepStrictEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [640, 400])
      // Drawn, not blank: a white 640x400 image compresses to well under this.
      assert.isAbove(png.length, 8_000)
    }))

  it.live("says what is wrong: an unknown metric (listing those there are), a scalar, an unknown run, a format it cannot write", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const out = Path.join(tempDir(), "x.svg")
      const none = yield* cli(["runs", "plot", dir, "--metric", "loss", "-o", out])
      assert.strictEqual(none.status, 2)
      assert.include(none.stderr, "no runs are recorded")
      const { report } = yield* run(dir)

      const unknown = yield* cli(["runs", "plot", dir, "--metric", "los", "-o", out])
      assert.strictEqual(unknown.status, 2)
      assert.include(unknown.stderr, `run ${report.run.id} has no metric los; its metrics: accuracy (scalar), loss (stepped, ${losses(report).length} points)`)

      const scalar = yield* cli(["runs", "plot", dir, "--metric", "accuracy", "-o", out])
      assert.strictEqual(scalar.status, 2)
      assert.include(scalar.stderr, "metric accuracy is a scalar (logged once: ")
      assert.include(scalar.stderr, "expops runs compare")

      const missing = yield* cli(["runs", "plot", dir, "20200101T000000Z-000000", "--metric", "loss", "-o", out])
      assert.strictEqual(missing.status, 2)
      assert.include(missing.stderr, "no run 20200101T000000Z-000000 in")

      const jpg = yield* cli(["runs", "plot", dir, "--metric", "loss", "-o", "chart.jpg"])
      assert.strictEqual(jpg.status, 2)
      assert.include(jpg.stderr, "-o chart.jpg: unsupported format .jpg; write FILE.svg or FILE.png")

      const nowhere = yield* cli(["runs", "plot", dir, "--metric", "loss", "-o", Path.join(tempDir(), "no/such/dir/x.svg")])
      assert.strictEqual(nowhere.status, 2)
      assert.match(nowhere.stderr, /cannot write .*no\/such\/dir\/x\.svg/)

      const noFlag = yield* cli(["runs", "plot", dir, "-o", out])
      assert.strictEqual(noFlag.status, 2)
      assert.include(noFlag.stderr, "--metric")
      // Nothing was written by any of these.
      assert.throws(() => readFileSync(out))
    }))
})
