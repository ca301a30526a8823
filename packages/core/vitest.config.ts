import { defineProject, mergeConfig } from "vitest/config"
import { shared } from "../../vitest.shared.ts"

export default mergeConfig(shared, defineProject({
  test: {
    name: "core",
    include: ["test/**/*.test.ts"],
    // Node runs the test files itself (stripping their types), so the code a
    // fingerprint reads on disk is the code that runs, as under the CLI.
    experimental: { viteModuleRunner: false, nodeLoader: false },
    execArgv: ["--conditions=@expops/source"]
  }
}))
