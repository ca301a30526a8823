// The list of test projects. vitest 5 no longer reads a workspace file by
// itself: vitest.config.ts passes this list to `test.projects`.
export default [
  "packages/core",
  "packages/backend-local",
  "packages/backend-gcs",
  "packages/ui",
  "packages/cluster",
  "packages/cli"
]
