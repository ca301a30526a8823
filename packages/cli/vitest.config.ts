import { defineProject, mergeConfig } from "vitest/config"
import { shared } from "../../vitest.shared.ts"

export default mergeConfig(shared, defineProject({
  test: {
    name: "cli",
    include: ["test/**/*.test.ts"],
    // The tests spawn the built CLI: build dist/ once before any of them runs.
    globalSetup: ["test/globalSetup.ts"],
    // Each test spawns the CLI several times.
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
}))
