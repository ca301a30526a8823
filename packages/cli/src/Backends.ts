/**
 * The cache backend of a project, as one layer providing the `CacheStore`
 * the cache reads and writes, the `RunStore` that records runs, and the
 * `CacheAdmin` maintenance service.
 *
 * - `local`: `DIR/.expops/` (files and SQLite), see `@expops/backend-local`;
 * - `gcs`: a bucket shared by many machines, with a local copy in
 *   `DIR/.expops/` in front of it unless `gcs.local_tier` is false, see
 *   `@expops/backend-gcs`. Its startup check (bucket, credentials) runs
 *   before anything else, so a wrong setting fails at once.
 *
 * @since 0.1.0
 */
import { LocalBackend, LocalBackendError } from "@expops/backend-local"
import type { CacheAdmin, CacheLease, CacheStore, RunStore } from "@expops/core"
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Project from "./Project.ts"

/**
 * The backend could not start (bad credentials, no bucket, a folder that
 * cannot be written). Exit 2: the user fixes the config or the environment.
 *
 * @since 0.1.0
 */
export class BackendError extends Schema.TaggedError<BackendError>()("BackendError", {
  backend: Schema.String,
  reason: Schema.String,
  /** The backend's own error (a `LocalBackendError`, a `GcsAccessDenied`, ...), with its fields and stack. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `${this.backend} backend: ${this.reason}`
  }
}

/**
 * @since 0.1.0
 */
export type Services = CacheStore.CacheStore | RunStore.RunStore | CacheAdmin.CacheAdmin | CacheLease.CacheLease

/**
 * @since 0.1.0
 */
export type Name = "local" | "gcs"

const failing = (error: BackendError): Layer.Layer<Services, BackendError> =>
  Layer.effectContext(Effect.fail(error) as Effect.Effect<Context.Context<Services>, BackendError>)

/** Startup failures become a `BackendError` naming the backend; defects stay defects. */
const startup = <E>(backend: Name, layer: Layer.Layer<Services, E>): Layer.Layer<Services, BackendError> =>
  layer.pipe(
    Layer.catchCause((cause) => {
      const error = Cause.squash(cause)
      if (!Cause.hasFails(cause)) return Layer.effectContext(Effect.failCause(cause as Cause.Cause<never>))
      // A local error would name its backend twice: take what failed, without the name.
      const reason = error instanceof LocalBackendError.LocalBackendError ? error.detail : error instanceof Error ? error.message : String(error)
      return failing(new BackendError({ backend, reason, cause: error }))
    })
  )

/**
 * The layer of the backend a project uses.
 *
 * @since 0.1.0
 */
export const layer = (project: Project.Project, backend: Name): Layer.Layer<Services, BackendError> => {
  const lease = project.config.lease
  if (backend === "local") return startup("local", LocalBackend.layer(project.dir, { lease }))
  const gcs = project.config.gcs
  if (gcs === undefined) {
    return failing(new BackendError({ backend: "gcs", reason: "model.parameters.cache.gcs is not set (bucket, and optionally prefix, project, credentials)" }))
  }
  // Loaded only when used: the GCS client is a large dependency that local projects never need.
  return startup(
    "gcs",
    Layer.unwrap(
      Effect.map(
        Effect.promise(() => import("@expops/backend-gcs")),
        ({ GcsBackend }) =>
          GcsBackend.layer({ gcs, projectName: project.config.name, projectDir: project.dir, local: LocalBackend.layer(project.dir), lease })
      )
    )
  )
}

type Load = ReturnType<typeof Project.load>

/**
 * Runs `f` with one service of a project's backend: the backend `--backend`
 * names (`backend`), else the one the project's config names. For the
 * commands that need one service of it (`cache` the `CacheAdmin`, `runs` the
 * `RunStore`).
 *
 * @since 0.1.0
 */
export const withService = <I extends Services, S>(service: Context.Key<I, S>): <A, E>(
  dir: string,
  backend: Option.Option<Name>,
  f: (service: S) => Effect.Effect<A, E, Services>
) => Effect.Effect<A, E | BackendError | Effect.Error<Load>, Effect.Services<Load>> =>
  Effect.fnUntraced(function*<A, E>(dir: string, backend: Option.Option<Name>, f: (service: S) => Effect.Effect<A, E, Services>) {
    const project = yield* Project.load(dir)
    // Widened to all of the backend's services, which the layer below provides.
    const get: Effect.Effect<S, never, Services> = service
    return yield* Effect.flatMap(get, f).pipe(
      Effect.provide(layer(project, Option.getOrElse(backend, () => project.config.backend)))
    )
  })
