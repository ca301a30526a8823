import { defineProject } from "vitest/config"

export default defineProject({
  test: { name: "backend-gcs", include: ["test/**/*.test.ts"] }
})
