/**
 * The GCS backend as the CLI uses it: from `model.parameters.cache.gcs` and
 * the project name, one layer providing `CacheStore` (the bucket, behind the
 * local tier unless `local_tier: false`), `RunStore` (run records in the
 * bucket), `CacheAdmin` (`expops cache ...` on the same store) and
 * `CacheLease` (in the bucket, also with a local tier: machines coordinate
 * through the bucket, not through their own folders).
 *
 * Building the layer checks first that the bucket is there and readable,
 * so a wrong name or missing permission stops the CLI (exit code 2) before
 * any work, with an error naming the bucket, the operation and the
 * credentials in use.
 *
 * ```ts
 * const backend = GcsBackend.layer({
 *   gcs: config.gcs!,
 *   projectName: config.name,
 *   projectDir: dir,
 *   local: LocalCacheStore.layer(path.join(dir, ".expops/cache"))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { CacheAdmin, type CacheLease, CacheStore, type ProjectConfig, RunStore } from "@expops/core"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as GcsCacheLease from "./GcsCacheLease.ts"
import * as GcsCacheStore from "./GcsCacheStore.ts"
import * as GcsClient from "./GcsClient.ts"
import { type GcsBackendError, GcsAccessDenied, GcsBucketNotFound, GcsCredentialsError, type GcsRequestError, GcsUnavailable } from "./GcsError.ts"
import * as GcsRunStore from "./GcsRunStore.ts"
import * as TieredCacheStore from "./TieredCacheStore.ts"

/**
 * The environment variable that points the backend at another endpoint
 * (the fake server in tests).
 *
 * @since 0.1.0
 */
export const ENDPOINT_ENV = "EXPOPS_GCS_ENDPOINT"

/**
 * @since 0.1.0
 */
export interface Options<E = never, R = never> {
  readonly gcs: ProjectConfig.GcsConfig
  /** `metadata.name`: the folder of this project in the bucket. */
  readonly projectName: string
  /** The project folder: a relative `credentials` path is resolved against it. */
  readonly projectDir?: string | undefined
  /** Defaults to `$EXPOPS_GCS_ENDPOINT`, else the real service. */
  readonly apiEndpoint?: string | undefined
  /** The local tier, used unless `gcs.localTier` is false. Without it the bucket is used alone. */
  readonly local?: Layer.Layer<CacheStore.CacheStore, E, R> | undefined
  readonly retry?: Partial<GcsClient.RetryPolicy> | undefined
  readonly onRemoteFailure?: TieredCacheStore.Options["onRemoteFailure"]
  readonly resumableThresholdBytes?: number | undefined
  readonly pageSize?: number | undefined
  /** Timings of the leases machines computing the same key coordinate with (`cache.lease`). */
  readonly lease?: CacheLease.Settings | undefined
}

/**
 * Turns a failed request of the startup check into the error a user acts on.
 *
 * @since 0.1.0
 */
export const explain = (error: GcsRequestError): GcsBackendError => {
  const operation = `${error.operation} gs://${error.bucket}/${error.object}`
  if (error.status === 401 || error.status === 403) {
    return new GcsAccessDenied({
      bucket: error.bucket,
      operation,
      credentials: error.credentials,
      status: error.status,
      reason: error.reason,
      cause: error
    })
  }
  if (error.status === 404) return new GcsBucketNotFound({ bucket: error.bucket, operation, credentials: error.credentials, cause: error })
  if (error.credentialsFailed) {
    return new GcsCredentialsError({ bucket: error.bucket, credentials: error.credentials, reason: error.reason, cause: error })
  }
  return new GcsUnavailable({ bucket: error.bucket, operation, reason: error.reason, cause: error })
}

/**
 * Checks that the credentials file (if any) is readable and the bucket
 * exists and can be listed: the permission every role that uses the cache
 * has (`storage.buckets.get` is not part of `roles/storage.objectViewer`).
 *
 * @since 0.1.0
 */
export const check = Effect.fnUntraced(function*(
  client: GcsClient.Shape,
  credentialsFile?: string
): Effect.fn.Return<void, GcsBackendError> {
  if (credentialsFile !== undefined) {
    const problem = yield* Effect.sync((): { readonly reason: string; readonly cause?: unknown } | undefined => {
      try {
        const parsed = JSON.parse(Fs.readFileSync(credentialsFile, "utf8"))
        return typeof parsed?.type === "string" ? undefined : { reason: "the file is JSON but not a Google credentials file (no \"type\" field)" }
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code
        const reason = code === "ENOENT" ? "the file does not exist" : code !== undefined ? `the file cannot be read (${code})` : "the file is not valid JSON"
        return { reason, cause }
      }
    })
    if (problem !== undefined) {
      return yield* new GcsCredentialsError({ bucket: client.bucketName, credentials: client.credentials, ...problem })
    }
  }
  yield* client.list("list objects under", client.root === "" ? "" : client.root + "/", { limit: 1 }).pipe(Effect.mapError(explain))
})

const resolveCredentials = (options: Options<any, any>): string | undefined => {
  const file = options.gcs.credentials
  if (file === undefined || file === "") return undefined
  return options.projectDir === undefined ? file : Path.resolve(options.projectDir, file)
}

/** `ENDPOINT_ENV` as the `ConfigProvider` in context has it (the environment, unless a test or host provides another). */
const endpointFromConfig = Config.option(Config.String(ENDPOINT_ENV)).pipe(Effect.map(Option.getOrUndefined), Effect.orDie)

const clientOptions = (options: Options<any, any>, fromConfig: string | undefined): GcsClient.Options => {
  const apiEndpoint = options.apiEndpoint ?? fromConfig
  return {
    bucket: options.gcs.bucket,
    prefix: options.gcs.prefix,
    projectName: options.projectName,
    projectId: options.gcs.project,
    credentials: resolveCredentials(options),
    apiEndpoint: apiEndpoint === "" ? undefined : apiEndpoint,
    retry: options.retry,
    resumableThresholdBytes: options.resumableThresholdBytes,
    pageSize: options.pageSize
  }
}

/**
 * The client, once the startup check passed.
 *
 * @since 0.1.0
 */
export const layerClient = <E, R>(options: Options<E, R>): Layer.Layer<GcsClient.GcsClient, GcsBackendError> =>
  Layer.effect(
    GcsClient.GcsClient,
    Effect.gen(function*() {
      const client = GcsClient.make(clientOptions(options, yield* endpointFromConfig))
      yield* check(client, resolveCredentials(options))
      return client
    })
  )

/**
 * `CacheStore` (tiered unless `localTier` is false or no local layer is
 * given), `RunStore`, `CacheAdmin` and `CacheLease` on the bucket, plus the `GcsClient`.
 *
 * @since 0.1.0
 */
export const layer = <E = never, R = never>(
  options: Options<E, R>
): Layer.Layer<
  CacheStore.CacheStore | RunStore.RunStore | CacheAdmin.CacheAdmin | CacheLease.CacheLease | GcsClient.GcsClient,
  GcsBackendError | E,
  R
> => {
  // The store and its maintenance together: a tiered store's admin verifies each tier on its own.
  const store = Layer.effectContext(
    Effect.gen(function*() {
      const remote = GcsCacheStore.make(yield* GcsClient.GcsClient)
      if (!options.gcs.localTier || options.local === undefined) {
        return Context.make(CacheStore.CacheStore, remote).pipe(Context.add(CacheAdmin.CacheAdmin, CacheAdmin.fromStore(remote)))
      }
      const local = Context.get(yield* Layer.build(options.local), CacheStore.CacheStore)
      const tiered = TieredCacheStore.make(local, remote, { onRemoteFailure: options.onRemoteFailure })
      return Context.make(CacheStore.CacheStore, tiered).pipe(
        Context.add(CacheAdmin.CacheAdmin, TieredCacheStore.makeAdmin(local, remote, tiered))
      )
    })
  )
  return Layer.mergeAll(store, GcsRunStore.layer, GcsCacheLease.layer(options.lease, { renewOffThread: true })).pipe(Layer.provideMerge(layerClient(options)))
}
