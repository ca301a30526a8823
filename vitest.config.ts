import { defineConfig } from "vitest/config"
import { shared } from "./vitest.shared.ts"
import projects from "./vitest.workspace.ts"

export default defineConfig({
  test: {
    projects,
    // The projects run their files with their own `maxWorkers` (vitest.shared.ts); the
    // root's is kept equal to it for vitest's own summary and diagnostics.
    maxWorkers: shared.test!.maxWorkers,
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})
