/// <reference lib="dom" />
/**
 * `expops ui` in a real browser: Debian's Chromium (installed by .ci/run)
 * driven by playwright-core, which downloads no browser. One browser for the
 * file. A browser that cannot start fails these tests: they never skip.
 *
 * Screenshots go to packages/cli/test/.work/screenshots (test artifacts);
 * with EXPOPS_UI_SCREENSHOTS=DIR also to DIR (docs/images: `npm run docs:screenshots`).
 */
import { existsSync, mkdirSync, copyFileSync } from "node:fs"
import * as Path from "node:path"
import type { RunReport } from "@expops/core"
import { Effect } from "effect"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { cli, copyProject, editConfig, repoRoot, run, spawnCli } from "./helpers.ts"
import { type Served, serveUi } from "./uiHelpers.ts"

const CHROMIUM = process.env.EXPOPS_CHROMIUM ?? "/usr/bin/chromium"
const shots = Path.join(repoRoot, "packages/cli/test/.work/screenshots")
/** Epochs of the run watched live: long enough (seconds) for the page to see it go. */
const LIVE_EPOCHS = 40_000

let browser: Browser
let page: Page
let served: Served
let dir: string
let first: RunReport.RunReport

const screenshot = async (name: string) => {
  mkdirSync(shots, { recursive: true })
  const file = Path.join(shots, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  const docs = process.env.EXPOPS_UI_SCREENSHOTS
  if (docs !== undefined) {
    mkdirSync(docs, { recursive: true })
    copyFileSync(file, Path.join(docs, `ui-${name}.png`))
  }
}

/** The status of every node of the graph on the page, by name. */
const nodeStatuses = (p: Page) =>
  p.$$eval("svg.graph g.node", (nodes) => Object.fromEntries(nodes.map((n) => [n.getAttribute("data-node"), n.getAttribute("data-status")])))

/** Why the browser or the server did not start: every test then fails with it (none is skipped). */
let setupFailure: unknown

beforeAll(async () => {
  try {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set EXPOPS_CHROMIUM`)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], timeout: 60_000 })
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
    page.setDefaultTimeout(30_000)
    dir = copyProject()
    first = (await Effect.runPromise(run(dir))).report
    served = await serveUi(dir)
  } catch (error) {
    setupFailure = error
  }
}, 120_000)

/** A test of this file: fails, never skips, when the browser could not start. */
const test = (name: string, body: () => Promise<void>) =>
  it(name, async () => {
    if (setupFailure !== undefined) throw setupFailure
    await body()
  })

afterAll(async () => {
  await served?.stop()
  await browser?.close()
})

describe("expops ui in Chromium", () => {
  test("the runs page lists the runs; the run page draws the quick start's 4 nodes with their statuses", async () => {
    await page.goto(served.url)
    await page.locator(`tr[data-run="${first.run.id}"]`).waitFor()
    assert.strictEqual(await page.locator("table.runs tbody tr").count(), 1)
    assert.include(await page.locator(`tr[data-run="${first.run.id}"]`).innerText(), "4 executed")
    await screenshot("runs")

    await page.locator(`a[href="#/run/${first.run.id}"]`).click()
    await page.locator("svg.graph g.node").first().waitFor()
    assert.deepStrictEqual(await nodeStatuses(page), { load_data: "executed", prepare: "executed", train_model: "executed", evaluate: "executed" })
    const edges = await page.$$eval("svg.graph path.edge", (paths) => paths.map((p) => p.getAttribute("data-edge")).sort())
    assert.deepStrictEqual(edges, ["load_data->prepare", "prepare->evaluate", "prepare->train_model", "train_model->evaluate"])
    // A node opens its steps, with their statuses, and the explanation.
    await page.locator('g.node[data-node="train_model"]').click()
    await page.locator('[data-panel="train_model"] tr[data-step="fit"]').waitFor()
    assert.strictEqual(await page.locator('[data-panel="train_model"] tr[data-step="fit"]').getAttribute("data-status"), "executed")
    await page.waitForFunction(() => document.querySelector("[data-explain]")?.textContent?.includes("a miss"))
    await screenshot("run")
  })

  test("the metrics page charts the logged points of loss", async () => {
    await page.goto(`${served.url}#/metrics?runs=${first.run.id}`)
    const chart = page.locator('.chart[data-metric="loss"]')
    await chart.locator("canvas").waitFor()
    const logged = (first.metrics ?? []).filter((m) => m.name === "loss").length
    assert.isAbove(logged, 10)
    assert.strictEqual(await chart.getAttribute("data-points"), String(logged))
    await screenshot("metrics")
  })

  test("a run started in another process while the page is open updates its nodes live, without a reload", async () => {
    await page.goto(served.url)
    await page.locator(`tr[data-run="${first.run.id}"]`).waitFor()
    await page.evaluate(() => ((window as any).__sameDocument = true))
    editConfig(dir, "epochs: 300", `epochs: ${LIVE_EPOCHS}`)
    const second = spawnCli(["run", dir, "--json"])
    // It shows up on the runs page (server-sent events), still running.
    const row = page.locator('table.runs tr[data-status="running"]')
    await row.waitFor({ timeout: 60_000 })
    const id = (await row.getAttribute("data-run"))!
    await row.locator("a").click()
    await page.locator("svg.graph g.node").first().waitFor()
    // Every status each node shows, as the page changes it.
    await page.evaluate(() => {
      const seen: Record<string, Array<string>> = ((window as any).__seen = {})
      const note = (n: Element) => {
        const name = n.getAttribute("data-node")!
        const status = n.getAttribute("data-status")!
        const list = (seen[name] ??= [])
        if (list[list.length - 1] !== status) list.push(status)
      }
      document.querySelectorAll("g.node").forEach(note)
      new MutationObserver((records) => records.forEach((r) => note(r.target as Element)))
        .observe(document.querySelector("svg.graph")!, { attributes: true, subtree: true, attributeFilter: ["data-status"] })
    })
    assert.strictEqual(await page.locator("[data-run-status]").getAttribute("data-run-status"), "running")
    await page.locator('g.node[data-node="train_model"][data-status="running"]').waitFor()
    await screenshot("live")
    const result = await second
    assert.strictEqual(result.status, 0, result.stderr)
    const report = JSON.parse(result.stdout) as RunReport.RunReport
    assert.strictEqual(report.run.id, id)
    await page.waitForFunction(() => document.querySelector('g.node[data-node="evaluate"]')?.getAttribute("data-status") === "executed", undefined, { timeout: 30_000 })
    assert.deepStrictEqual(await nodeStatuses(page), { load_data: "cached", prepare: "cached", train_model: "executed", evaluate: "executed" })
    const seen = await page.evaluate(() => (window as any).__seen as Record<string, Array<string>>)
    // train_model was seen running, then executed; evaluate waited, then ran.
    assert.deepStrictEqual(seen.train_model!.slice(-2), ["running", "executed"], JSON.stringify(seen))
    assert.strictEqual(seen.evaluate!.at(-1), "executed")
    assert.isAbove(seen.evaluate!.length, 1, `evaluate changed state on the page: ${JSON.stringify(seen)}`)
    await page.waitForFunction(() => document.querySelector("[data-run-status]")?.getAttribute("data-run-status") === "success")
    assert.isTrue(await page.evaluate(() => (window as any).__sameDocument === true), "the page was not reloaded")

    // Its miss, explained in the words of `expops explain`.
    await page.locator('g.node[data-node="train_model"]').click()
    await page.waitForFunction(() => document.querySelector("[data-explain]")?.textContent?.includes("epochs"))
    const shown = await page.locator("[data-explain]").innerText()
    const explained = await Effect.runPromise(cli(["explain", dir, "train_model", "--run", id]))
    assert.strictEqual(shown.trim(), explained.stdout.trim())
    assert.include(shown, `parameter \`epochs\` 300 -> ${LIVE_EPOCHS}`)
    // A step of it, explained on its own.
    await page.locator('[data-panel="train_model"] tr[data-step="fit"]').click()
    await page.waitForFunction(() => document.querySelector("[data-explain]")?.textContent?.startsWith("step fit"))
    const step = await Effect.runPromise(cli(["explain", dir, "train_model/fit", "--run", id]))
    assert.strictEqual((await page.locator("[data-explain]").innerText()).trim(), step.stdout.trim())

    // Compare: the changed parameter, among what differs.
    await page.goto(`${served.url}#/compare?runs=${first.run.id},${id}`)
    const changed = page.locator('table.compare tr[data-what="train_model.epochs"]')
    await changed.waitFor()
    assert.strictEqual(await changed.getAttribute("data-same"), "false")
    assert.deepStrictEqual(await changed.locator("td").allInnerTexts(), ["parameter train_model.epochs", "300", String(LIVE_EPOCHS)])
    assert.strictEqual(await page.locator('table.compare tr[data-what="prepare.test_size"]').getAttribute("data-same"), "true")
    await page.locator('.chart[data-metric="loss"] canvas').waitFor()
    assert.strictEqual(await page.locator('.chart[data-metric="loss"]').getAttribute("data-series"), "2")
    await screenshot("compare")

    await page.goto(`${served.url}#/cache`)
    await page.locator("table.cache tbody tr").first().waitFor()
    await page.locator("table.cache tbody tr", { hasText: "train_model" }).first().click()
    await page.waitForFunction(() => document.querySelector("[data-explain]")?.textContent?.includes("recipe:"))
    await screenshot("cache")
  })
})
