import { defineProject } from "vitest/config"

export default defineProject({
  test: { name: "backend-local", include: ["test/**/*.test.ts"] }
})
