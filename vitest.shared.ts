import * as Path from "node:path"
import type { ViteUserConfig } from "vitest/config"

/**
 * Node's compile cache for every test worker and every process the tests start
 * (the CLI, the crash and lease children, npm): V8's compiled code of effect
 * and the workspace sources is kept between processes instead of compiled
 * afresh in each of ~70 workers and ~100 child processes. It is keyed by the
 * source's content, so an edited file is compiled again; it changes no
 * behaviour, only start-up time. (Vitest turns it off itself under v8 coverage.)
 */
const compileCache = Path.join(import.meta.dirname, "node_modules/.cache/node-compile-cache")

/**
 * Settings every test project shares. Workspace packages resolve to their
 * TypeScript sources (the `@expops/source` export condition), so tests never
 * run against a stale build in dist/.
 *
 * `maxWorkers` is here, not only in the root vitest.config.ts: vitest 5 runs
 * each file with its project's `maxWorkers` and does not pass the root's down
 * to the projects, so a root-only setting left every project at vitest's
 * default (one core less than the machine has), which on a two-core machine is
 * one worker: every file of the suite ran in turn.
 */
export const shared: ViteUserConfig = {
  resolve: { conditions: ["@expops/source"] },
  ssr: { resolve: { conditions: ["@expops/source"] } },
  test: {
    // One worker per core. The slowest files mostly wait on child processes
    // (the crash, lease and cluster tests), so the others run beside them.
    maxWorkers: "100%",
    env: { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? compileCache }
  }
}
