/**
 * The tests of the executable (bin.test.ts) spawn the real `expops`
 * (packages/cli/dist/bin.js) as users do, so dist/ must match the sources:
 * build it (and what it depends on) before the tests run. `tsc -b` is
 * incremental; when nothing changed it only checks timestamps.
 */
import { spawnSync } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../..")

export default function setup() {
  // For working on the tests while a sibling package does not compile: build dist/ yourself.
  if (process.env.EXPOPS_TEST_SKIP_BUILD === "1") return
  const tsc = Path.join(root, "node_modules/typescript/bin/tsc")
  const result = spawnSync(process.execPath, [tsc, "-b", "packages/cli/tsconfig.src.json"], { cwd: root, encoding: "utf8" })
  if (result.status !== 0) {
    throw new Error(`building the CLI failed (npx tsc -b packages/cli/tsconfig.src.json):\n${result.stdout}${result.stderr}`)
  }
  // The web UI's front end, which the browser tests load: bundled afresh (well under a second).
  const web = spawnSync(process.execPath, ["packages/ui/scripts/build-web.ts"], { cwd: root, encoding: "utf8" })
  if (web.status !== 0) throw new Error(`building the web UI failed (node packages/ui/scripts/build-web.ts):\n${web.stdout}${web.stderr}`)
}
