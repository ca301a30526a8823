import { defineProject, mergeConfig } from "vitest/config"
import { shared } from "../../vitest.shared.ts"

// The server end to end (HTTP, in Chromium) is tested with the command that serves it: packages/cli/test/Ui*.test.ts.
export default mergeConfig(shared, defineProject({
  test: { name: "ui", include: ["test/**/*.test.ts"] }
}))
