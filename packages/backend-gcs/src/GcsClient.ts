/**
 * A bucket and a path inside it, reached through the official
 * `@google-cloud/storage` client, with the few object operations the stores
 * need. Every operation retries on 429, 5xx (but 501) and dropped connections with
 * exponential backoff and jitter, bounded in count and in time; anything
 * else fails at once as a `GcsRequestError`.
 *
 * The client's own retries are turned off so there is one retry policy,
 * visible and testable here. A resumable upload interrupted by a dropped
 * connection continues its session where the server stopped receiving
 * instead of starting over.
 *
 * @since 0.1.0
 */
import { type Bucket, Storage } from "@google-cloud/storage"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { GcsRequestError } from "./GcsError.ts"
import * as Crc32c from "./internal/crc32c.ts"
import { classify } from "./internal/failure.ts"
import { readObject, writeObject } from "./internal/transfer.ts"

/**
 * Retries of one request: delays grow from `baseDelayMs` by a factor of 2 up
 * to `maxDelayMs`, each jittered to between half and all of it; at most
 * `maxRetries` retries and no new attempt after `totalTimeoutMs`.
 *
 * @since 0.1.0
 */
export interface RetryPolicy {
  readonly maxRetries: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly totalTimeoutMs: number
}

/**
 * @since 0.1.0
 */
export const defaultRetryPolicy: RetryPolicy = { maxRetries: 6, baseDelayMs: 250, maxDelayMs: 16_000, totalTimeoutMs: 120_000 }

/**
 * @since 0.1.0
 */
export interface Options {
  readonly bucket: string
  /** Objects live under `PREFIX/PROJECT/`; either may be empty. */
  readonly prefix?: string | undefined
  readonly projectName: string
  /** The Google Cloud project (billing, quota); else from the environment. */
  readonly projectId?: string | undefined
  /** A service account key file; else Application Default Credentials. */
  readonly credentials?: string | undefined
  /** Another endpoint than storage.googleapis.com (the fake server in tests). No credentials are sent to it. */
  readonly apiEndpoint?: string | undefined
  readonly retry?: Partial<RetryPolicy> | undefined
  /** Objects larger than this go up as resumable uploads (default 8 MiB); smaller ones in one multipart request. */
  readonly resumableThresholdBytes?: number | undefined
  /** Objects per listing request (default 1000, the API's maximum). */
  readonly pageSize?: number | undefined
}

/**
 * @since 0.1.0
 */
export interface ListedObject {
  readonly name: string
  readonly size: number
  /** Custom metadata. */
  readonly metadata: Readonly<Record<string, string>>
}

/**
 * @since 0.1.0
 */
export interface WriteOptions {
  readonly contentType?: string | undefined
  readonly metadata?: Readonly<Record<string, string>> | undefined
  /** `0`: the object must not exist yet. */
  readonly ifGenerationMatch?: number | undefined
}

/**
 * @since 0.1.0
 */
export interface Shape {
  /** What the client was made from (a worker thread makes its own client from them). */
  readonly options: Options
  readonly bucketName: string
  /** `PREFIX/PROJECT`, without slashes at either end. */
  readonly root: string
  /** Which credentials are used, for messages: never the secret. */
  readonly credentials: string
  readonly storage: Storage
  readonly bucket: Bucket
  readonly retry: RetryPolicy
  /** Joins `root` and the parts with slashes. */
  readonly path: (...parts: ReadonlyArray<string>) => string
  readonly read: (operation: string, name: string) => Effect.Effect<Option.Option<Uint8Array>, GcsRequestError>
  /** `written`, or `exists` when an `ifGenerationMatch` precondition failed (412). */
  readonly write: (operation: string, name: string, data: Uint8Array, options?: WriteOptions) => Effect.Effect<"written" | "exists", GcsRequestError>
  readonly exists: (operation: string, name: string) => Effect.Effect<boolean, GcsRequestError>
  /** Deleting what does not exist is not an error. */
  readonly remove: (operation: string, name: string) => Effect.Effect<void, GcsRequestError>
  /** Copies then deletes; `false` when the source does not exist. */
  readonly move: (operation: string, from: string, to: string, metadata?: Readonly<Record<string, string>>) => Effect.Effect<boolean, GcsRequestError>
  /** Every object under a prefix, page by page. */
  readonly list: (operation: string, prefix: string, options?: { readonly limit?: number | undefined }) => Effect.Effect<ReadonlyArray<ListedObject>, GcsRequestError>
}

/**
 * @since 0.1.0
 */
export class GcsClient extends Context.Service<GcsClient, Shape>()("expops/GcsClient") {}

/**
 * How messages name the credentials in use.
 *
 * @since 0.1.0
 */
export const describeCredentials = (credentials: string | undefined): string => {
  if (credentials !== undefined) return `credentials file ${credentials}`
  const fromEnv = process.env.GOOGLE_APPLICATION_CREDENTIALS
  return fromEnv ? `Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS=${fromEnv})` : "Application Default Credentials"
}

const trimSlashes = (s: string) => s.replace(/^\/+|\/+$/g, "")

/**
 * The retry schedule for a policy. Jitter uses `Math.random`, not Effect's
 * `Random`: a step's seeded random stream must not depend on network faults.
 *
 * @since 0.1.0
 */
export const retrySchedule = (policy: RetryPolicy) =>
  Schedule.exponential(Duration.millis(policy.baseDelayMs), 2).pipe(
    Schedule.modifyDelay(({ duration }) =>
      Effect.sync(() => {
        const capped = Math.min(Duration.toMillis(duration), policy.maxDelayMs)
        return Duration.millis(capped / 2 + (Math.random() * capped) / 2)
      })
    ),
    Schedule.upTo({ times: policy.maxRetries, duration: Duration.millis(policy.totalTimeoutMs) }),
    Schedule.setInputType<GcsRequestError>(),
    Schedule.while(({ input }) => input.retryable),
    Schedule.tap(({ duration, input }) =>
      Effect.logDebug(`GCS: retrying ${input.operation} of gs://${input.bucket}/${input.object} in ${Math.round(Duration.toMillis(duration))} ms after: ${input.reason}`)
    )
  )

/**
 * @since 0.1.0
 */
export const make = (options: Options): Shape => {
  const retry: RetryPolicy = { ...defaultRetryPolicy, ...options.retry }
  const threshold = options.resumableThresholdBytes ?? 8 * 1024 * 1024
  const pageSize = options.pageSize ?? 1000
  const credentials = describeCredentials(options.credentials)
  const storage = new Storage({
    ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
    ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
    // A custom endpoint gets no credentials from the client, so the key file is not loaded then.
    ...(options.credentials === undefined || options.apiEndpoint !== undefined ? {} : { keyFilename: options.credentials }),
    retryOptions: { autoRetry: false, retryableErrorFn: () => false },
    crc32cGenerator: Crc32c.validator
  })
  const bucket = storage.bucket(options.bucket)
  const root = [trimSlashes(options.prefix ?? ""), options.projectName].filter((p) => p !== "").join("/")
  const schedule = retrySchedule(retry)

  const toError = (operation: string, object: string, cause: unknown) => {
    const failure = classify(cause)
    return new GcsRequestError({
      bucket: options.bucket,
      object,
      operation,
      ...(failure.status === undefined ? {} : { status: failure.status }),
      reason: failure.message,
      retryable: failure.retryable,
      credentials,
      credentialsFailed: failure.credentials,
      cause
    })
  }

  const attempt = <A>(operation: string, object: string, f: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({ try: f, catch: (error) => toError(operation, object, error) })

  const request = <A>(operation: string, object: string, f: (signal: AbortSignal) => Promise<A>) =>
    Effect.retry(attempt(operation, object, f), schedule)

  const read: Shape["read"] = (operation, name) =>
    Effect.map(request(operation, name, (signal) => readObject(bucket.file(name), signal)), (b) => Option.fromNullishOr(b as Uint8Array | undefined))

  const write: Shape["write"] = (operation, name, data, writeOptions) =>
    Effect.suspend(() => {
      const resumable = data.byteLength > threshold
      let sessionUri: string | undefined
      // A failure after the server may have stored the object (a dropped
      // connection, a 5xx) makes a later 412 ambiguous: it may be our own write.
      let ambiguous = false
      const once = attempt(operation, name, (signal) =>
        writeObject(bucket.file(name), data, {
          resumable,
          contentType: writeOptions?.contentType ?? "application/octet-stream",
          metadata: writeOptions?.metadata,
          ifGenerationMatch: writeOptions?.ifGenerationMatch,
          sessionUri,
          onSessionUri: (uri) => {
            sessionUri = uri
          }
        }, signal)).pipe(
          Effect.tapError((error) =>
            Effect.sync(() => {
              if (error.retryable) ambiguous = true
              if (error.status === 404 || error.status === 410 || /offset is lower/i.test(error.reason)) sessionUri = undefined
            })
          )
        )
      return Effect.retry(once, schedule).pipe(
        Effect.as("written" as const),
        Effect.catchIf(
          (error) => error.status === 412,
          () =>
            // Only small objects (manifests) are worth reading back; a blob is named by its content anyway.
            ambiguous && data.byteLength <= 1024 * 1024
              ? Effect.map(read(operation, name), (stored) =>
                Option.isSome(stored) && Buffer.from(stored.value).equals(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
                  ? "written" as const
                  : "exists" as const)
              : Effect.succeed("exists" as const)
        )
      )
    })

  const exists: Shape["exists"] = (operation, name) =>
    request(operation, name, async () => (await bucket.file(name).exists())[0])

  const remove: Shape["remove"] = (operation, name) =>
    request(operation, name, async () => {
      await bucket.file(name).delete({ ignoreNotFound: true })
    })

  const move: Shape["move"] = (operation, from, to, metadata) =>
    request(operation, from, async () => {
      try {
        await bucket.file(from).copy(bucket.file(to), metadata === undefined ? {} : ({ metadata } as any))
      } catch (error) {
        if ((error as any)?.code === 404) return false
        throw error
      }
      await bucket.file(from).delete({ ignoreNotFound: true })
      return true
    })

  const list: Shape["list"] = Effect.fnUntraced(function*(operation, prefix, listOptions) {
    const out: Array<ListedObject> = []
    let pageToken: string | undefined
    do {
      const token = pageToken
      const limit = listOptions?.limit
      const maxResults = limit === undefined ? pageSize : Math.min(pageSize, limit - out.length)
      const page = yield* request(operation, prefix, async () => {
        const [, next, response] = await bucket.getFiles({
          prefix,
          autoPaginate: false,
          maxResults,
          ...(token === undefined ? {} : { pageToken: token })
        })
        return { next: (next as { pageToken?: string } | null)?.pageToken, items: ((response as any)?.items ?? []) as Array<any> }
      })
      for (const item of page.items) {
        out.push({ name: String(item.name), size: Number(item.size ?? 0), metadata: item.metadata ?? {} })
      }
      pageToken = page.next
    } while (pageToken !== undefined && (listOptions?.limit === undefined || out.length < listOptions.limit))
    return out
  })

  return {
    options,
    bucketName: options.bucket,
    root,
    credentials,
    storage,
    bucket,
    retry,
    path: (...parts) => [root, ...parts].filter((p) => p !== "").join("/"),
    read,
    write,
    exists,
    remove,
    move,
    list
  }
}
