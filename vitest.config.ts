import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.ts"

export default defineConfig({
  // Resolve workspace packages to their TypeScript sources, so tests never run
  // against a stale build in dist/.
  resolve: { conditions: ["@expops/source"] },
  ssr: { resolve: { conditions: ["@expops/source"] } },
  test: {
    projects,
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
