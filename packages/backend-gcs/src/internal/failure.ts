/**
 * What went wrong in a call to Cloud Storage, read from the many shapes of
 * error the client and its HTTP libraries produce (ApiError, GaxiosError,
 * a bare `{ code, message }` from a resumable upload, Node socket errors).
 */

export interface Failure {
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined
  readonly message: string
  /** Worth another attempt: 408, 429, 5xx but 501, a dropped or refused connection, a checksum mismatch in transit. */
  readonly retryable: boolean
  /** The credentials could not be loaded or were refused by the token endpoint. */
  readonly credentials: boolean
}

const CONNECTION = /ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|UND_ERR|ERR_STREAM_PREMATURE_CLOSE|socket hang up|other side closed|premature close|terminated|network|fetch failed|Premature close|aborted/i

const statusOf = (error: any): number | undefined => {
  const candidates = [error?.code, error?.status, error?.response?.status, error?.response?.statusCode, error?.statusCode]
  for (const c of candidates) {
    const n = typeof c === "number" ? c : typeof c === "string" && /^\d{3}$/.test(c) ? Number(c) : NaN
    if (n >= 100 && n < 600) return n
  }
  return undefined
}

const messageOf = (error: any): string => {
  const text = typeof error?.message === "string" && error.message !== "" ? error.message : String(error)
  // The client puts the whole JSON error body in the message of a failed download.
  try {
    const parsed = JSON.parse(text)
    if (typeof parsed?.error?.message === "string") return parsed.error.message
  } catch {
    // not JSON
  }
  return text.split("\n")[0]!.slice(0, 500)
}

/** 501 (not implemented) is a 5xx that another attempt cannot change: the server does not support the request. */
const isTransient = (status: number): boolean => status === 408 || status === 429 || (status >= 500 && status !== 501)

export const classify = (error: unknown): Failure => {
  const e = error as any
  const status = statusOf(e)
  const message = messageOf(e)
  const code = String(e?.code ?? e?.cause?.code ?? "")
  // Token endpoint refusals (invalid_grant: a revoked key) carry a 400; Storage's own 401/403 are access errors.
  const credentials = status !== 401 && status !== 403 && status !== 404 &&
    /default credentials|invalid_grant|invalid_client|unauthorized_client|private key|client_email|keyFile|key file|ENOENT.*json|Unable to detect a Project Id/i.test(message)
  const connection = status === undefined && !credentials &&
    (CONNECTION.test(code) || CONNECTION.test(message) || CONNECTION.test(String(e?.cause?.message ?? "")))
  const mismatch = code === "CONTENT_DOWNLOAD_MISMATCH" || code === "FILE_NO_UPLOAD"
  const retryable = credentials ? false : status !== undefined ? isTransient(status) : connection || mismatch
  return { status, message: status === undefined ? message : `${status} ${message}`, retryable, credentials }
}
