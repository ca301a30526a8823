/**
 * Builds the front end into dist/web: one minified bundle (app.js: preact,
 * uPlot, dagre and the pages), one stylesheet (uPlot's and ours) and the
 * page. Run by the package's build (the root `prepare`, so `npm ci` makes
 * it); takes a fraction of a second.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const root = fileURLToPath(new URL("..", import.meta.url))
const out = `${root}dist/web`
const require = createRequire(import.meta.url)

fs.mkdirSync(out, { recursive: true })
const result = await esbuild.build({
  entryPoints: [`${root}src/web/main.tsx`],
  outfile: `${out}/app.js`,
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  metafile: true,
  logLevel: "warning"
})
const uplotCss = fs.readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8")
fs.writeFileSync(`${out}/app.css`, `${uplotCss}\n${fs.readFileSync(`${root}src/web/app.css`, "utf8")}`)
fs.copyFileSync(`${root}src/web/index.html`, `${out}/index.html`)
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0)
if (process.argv.includes("--verbose")) console.log(`web UI built: ${out} (app.js ${(bytes / 1024).toFixed(0)} KiB)`)
