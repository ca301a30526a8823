import { defineProject, mergeConfig } from "vitest/config"
import { shared } from "../../vitest.shared.ts"

export default mergeConfig(shared, defineProject({
  test: {
    name: "cli",
    include: ["test/**/*.test.ts"],
    // The few tests of the executable itself spawn the built CLI: build dist/ once before any of them runs.
    globalSetup: ["test/globalSetup.ts"],
    // Most tests run the CLI in-process, and it imports the projects' pipeline modules as the
    // executable does: with Node's own loader (Node strips their types), so their code, and so
    // their cache keys, are what users get, and edited files are imported afresh. Node loads the
    // workspace packages from their sources through the same export condition Vite uses.
    experimental: { viteModuleRunner: false },
    execArgv: ["--conditions=@expops/source"],
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
}))
