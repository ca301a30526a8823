/**
 * Errors of the GCS backend that a user can act on. The startup check fails
 * with one of `GcsAccessDenied`, `GcsBucketNotFound`, `GcsCredentialsError`
 * or `GcsUnavailable` before any work is done; the CLI exits with code 2 on
 * each. Messages name the bucket, the operation and which credentials were
 * used (a file path or "Application Default Credentials"), never a secret.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * GCS answered 401 (no usable credentials) or 403 (no permission).
 *
 * @since 0.1.0
 */
export class GcsAccessDenied extends Schema.TaggedError<GcsAccessDenied>()("GcsAccessDenied", {
  bucket: Schema.String,
  /** What was being done, e.g. `list objects under gs://bucket/prefix/`. */
  operation: Schema.String,
  /** Which credentials were used: `credentials file keys/sa.json` or `Application Default Credentials`. */
  credentials: Schema.String,
  status: Schema.Number,
  reason: Schema.String,
  /** The failed request. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    const what = this.status === 401 ? "refused the credentials (401)" : "denied access (403)"
    return `GCS ${what} to bucket ${this.bucket} while trying to ${this.operation}, using ${this.credentials}: ${this.reason}. ` +
      `Readers need roles/storage.objectViewer on the bucket; writers also roles/storage.objectCreator (or roles/storage.objectUser).`
  }
}

/**
 * The bucket does not exist.
 *
 * @since 0.1.0
 */
export class GcsBucketNotFound extends Schema.TaggedError<GcsBucketNotFound>()("GcsBucketNotFound", {
  bucket: Schema.String,
  operation: Schema.String,
  credentials: Schema.String,
  /** The failed request. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `GCS bucket ${this.bucket} does not exist (while trying to ${this.operation}, using ${this.credentials}). ` +
      `Check model.parameters.cache.gcs.bucket, or create it: gcloud storage buckets create gs://${this.bucket}`
  }
}

/**
 * The credentials could not be loaded: a missing or malformed key file, or
 * no Application Default Credentials on this machine.
 *
 * @since 0.1.0
 */
export class GcsCredentialsError extends Schema.TaggedError<GcsCredentialsError>()("GcsCredentialsError", {
  bucket: Schema.String,
  credentials: Schema.String,
  reason: Schema.String,
  /** The failed request, or the error reading the credentials file. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `GCS credentials for bucket ${this.bucket} could not be used (${this.credentials}): ${this.reason}. ` +
      `Set model.parameters.cache.gcs.credentials to a service account key file, or run \`gcloud auth application-default login\`.`
  }
}

/**
 * GCS could not be reached, or kept failing, after the retries ran out.
 *
 * @since 0.1.0
 */
export class GcsUnavailable extends Schema.TaggedError<GcsUnavailable>()("GcsUnavailable", {
  bucket: Schema.String,
  operation: Schema.String,
  reason: Schema.String,
  /** The failed request. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `GCS is unavailable for bucket ${this.bucket} (while trying to ${this.operation}): ${this.reason}`
  }
}

/**
 * Any startup failure of the GCS backend.
 *
 * @since 0.1.0
 */
export type GcsBackendError = GcsAccessDenied | GcsBucketNotFound | GcsCredentialsError | GcsUnavailable

/**
 * One request that failed for good (after retries, or at once when retrying
 * cannot help). The stores turn it into their port's error.
 *
 * @since 0.1.0
 */
export class GcsRequestError extends Schema.TaggedError<GcsRequestError>()("GcsRequestError", {
  bucket: Schema.String,
  /** The object name, or the prefix for a listing. */
  object: Schema.String,
  operation: Schema.String,
  status: Schema.optionalKey(Schema.Number),
  reason: Schema.String,
  retryable: Schema.Boolean,
  credentials: Schema.String,
  /** The credentials themselves failed to load (not an HTTP answer). */
  credentialsFailed: Schema.Boolean,
  /** What the client threw: its status, code and stack. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `GCS could not ${this.operation} gs://${this.bucket}/${this.object}: ${this.reason}`
  }
}
