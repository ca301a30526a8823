/**
 * Where the local backend keeps a project's data: one place, so the cache
 * store, the run store and the whole backend agree.
 */
import * as path from "node:path"

export interface ProjectPaths {
  /** `<project>/.expops` */
  readonly root: string
  /** `<project>/.expops/cache` */
  readonly cache: string
  /** `<project>/.expops/expops.sqlite`: the cache index and the run history. */
  readonly database: string
}

export const projectPaths = (projectDir: string): ProjectPaths => {
  const root = path.join(path.resolve(projectDir), ".expops")
  return { root, cache: path.join(root, "cache"), database: path.join(root, "expops.sqlite") }
}
