import type { ViteUserConfig } from "vitest/config"

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
    maxWorkers: "100%"
  }
}
