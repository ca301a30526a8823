/**
 * The cache backend of a project, as one layer providing the `CacheStore`
 * the cache reads and writes, the `RunStore` that records runs, and the
 * `CacheAdmin` maintenance service.
 *
 * @since 0.1.0
 */
import { LocalBackend } from "@expops/backend-local"
import type { CacheAdmin, CacheStore, RunStore } from "@expops/core"
import { type Context, Effect, Layer, Schema } from "effect"
import type { Project } from "./Project.ts"

/**
 * The backend could not start (not installed, bad credentials, no bucket).
 * Exit 2: the user fixes the config or the environment.
 *
 * @since 0.1.0
 */
export class BackendError extends Schema.TaggedError<BackendError>()("BackendError", {
  backend: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.backend} backend: ${this.reason}`
  }
}

/**
 * @since 0.1.0
 */
export type Services = CacheStore.CacheStore | RunStore.RunStore | CacheAdmin.CacheAdmin

/**
 * @since 0.1.0
 */
export type Name = "local" | "gcs"

/**
 * The layer of the backend a project uses.
 *
 * @since 0.1.0
 */
export const layer = (project: Project, backend: Name): Layer.Layer<Services, BackendError> => {
  if (backend === "gcs") {
    return Layer.effectContext(
      Effect.fail(
        new BackendError({
          backend: "gcs",
          reason: "the Google Cloud Storage backend (@expops/backend-gcs) is not available in this version yet; use backend: local"
        })
      ) as Effect.Effect<Context.Context<Services>, BackendError>
    )
  }
  return LocalBackend.layer(project.dir).pipe(
    Layer.catchTag("LocalBackendError", (error) =>
      Layer.effectContext(
        Effect.fail(new BackendError({ backend: "local", reason: error.message.replace(/^local backend: /, "") })) as Effect.Effect<
          Context.Context<Services>,
          BackendError
        >
      ))
  )
}
