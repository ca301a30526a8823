import type { ViteUserConfig } from "vitest/config"

/**
 * Settings every test project shares. Workspace packages resolve to their
 * TypeScript sources (the `@expops/source` export condition), so tests never
 * run against a stale build in dist/.
 */
export const shared: ViteUserConfig = {
  resolve: { conditions: ["@expops/source"] },
  ssr: { resolve: { conditions: ["@expops/source"] } }
}
