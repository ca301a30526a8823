/**
 * What makes two processes of a cluster "the same project on the same
 * cache": fingerprints of the code and config of a plan, and the identity of
 * the cache a project uses.
 *
 * A local cache is identified by a random id written once into its folder
 * (`.expops/cluster-id`): processes that read the same id see the same folder
 * (one machine, or a shared mount), whatever path they reach it by; two
 * machines with their own disks at the same path do not.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { CanonicalHash, type Pipeline, type ProjectConfig } from "@expops/core"
import type { Fingerprints } from "./ProcessEntity.ts"

/**
 * The fingerprints of a planned project: its processes' code, and what its
 * config makes of them (file locations left out: the same project may live
 * at different paths on different machines).
 *
 * @since 0.1.0
 */
export const fingerprints = (
  plan: Pipeline.Plan<unknown>,
  config: ProjectConfig.ProjectConfig,
  data: { readonly digest: string } | undefined
): Fingerprints => {
  const processes = [...plan.pipeline.processes]
    .map((p) => [p.name, p.code, p.version ?? null])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])))
  const fanout = Object.fromEntries(
    Object.entries(config.fanout).map(([name, settings]) => [name, {
      seed: settings.seed === undefined ? null : { ...settings.seed, at: null },
      data: settings.data === undefined ? null : { ...settings.data, at: null }
    }])
  )
  return {
    code: CanonicalHash.digest({ pipeline: plan.pipeline.name, processes }),
    config: CanonicalHash.digest({
      order: plan.order,
      adjlist: config.adjlist ?? null,
      parameters: config.parameters,
      fanout,
      maxBranches: config.maxBranches ?? null,
      data: data?.digest ?? null
    })
  }
}

/**
 * A cache's identity, and the way to show it.
 *
 * @since 0.1.0
 */
export interface CacheIdentity {
  readonly id: string
  readonly display: string
}

/**
 * The identity of the cache a project uses with a backend.
 *
 * @since 0.1.0
 */
export const cacheIdentity = (
  projectDir: string,
  backend: "local" | "gcs",
  gcs: ProjectConfig.GcsConfig | undefined
): CacheIdentity => {
  if (backend === "gcs" && gcs !== undefined) {
    const place = `gs://${gcs.bucket}/${gcs.prefix}`
    return { id: `gcs:${place}`, display: place }
  }
  const dir = Path.join(projectDir, ".expops")
  const file = Path.join(dir, "cluster-id")
  mkdirSync(dir, { recursive: true })
  // Written aside and linked into place: the first process to get here makes it, whole; every later one reads it.
  const aside = `${file}.${process.pid}.${randomUUID()}`
  writeFileSync(aside, `${randomUUID()}\n`)
  try {
    linkSync(aside, file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
  } finally {
    unlinkSync(aside)
  }
  const id = readFileSync(file, "utf8").trim()
  return { id: `local:${id}`, display: `local folder ${dir} (id ${id.slice(0, 8)})` }
}
