import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.ts"

export default defineConfig({
  test: {
    projects,
    // One worker per core. Vitest's default leaves one core to itself, which on a
    // two-core machine runs every file in turn; the slowest files mostly wait on
    // child processes (the crash and concurrency tests), so others run beside them.
    maxWorkers: "100%",
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})
