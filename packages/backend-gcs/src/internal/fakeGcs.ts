/**
 * The state of the fake Cloud Storage server: buckets, objects with
 * generations, resumable upload sessions, preconditions and listing. Pure
 * bookkeeping, no HTTP: `FakeGcsServer` routes requests here.
 */
import { createHash, type Hash } from "node:crypto"
import * as Crc32c from "./crc32c.ts"

export interface StoredObject {
  readonly bucket: string
  readonly name: string
  readonly data: Buffer
  readonly generation: number
  readonly metageneration: number
  readonly contentType: string
  readonly metadata: Readonly<Record<string, string>>
  readonly md5Hash: string
  readonly crc32c: string
  readonly timeCreated: string
}

export type Access = "read-write" | "read-only" | "none"

export interface Bucket {
  readonly name: string
  readonly timeCreated: string
  readonly objects: Map<string, StoredObject>
  access: Access
  /** Status returned when access is refused: 403 (no permission) or 401 (no credentials). */
  deniedStatus: 401 | 403
}

export interface Preconditions {
  readonly ifGenerationMatch?: number | undefined
  readonly ifGenerationNotMatch?: number | undefined
  readonly ifMetagenerationMatch?: number | undefined
  readonly ifMetagenerationNotMatch?: number | undefined
}

export interface UploadSession {
  readonly id: string
  readonly bucket: string
  readonly name: string
  readonly contentType: string
  readonly metadata: Readonly<Record<string, string>>
  readonly preconditions: Preconditions
  /** From `X-Upload-Content-Length`, or a `Content-Range` total. */
  total: number | undefined
  readonly chunks: Array<Buffer>
  persisted: number
  finalized: StoredObject | undefined
  /** Checksums of what arrived so far, updated as chunks come in. */
  readonly md5: Hash
  crc32c: number
}

/** An error the API reports as JSON: `{ error: { code, message, errors } }`. */
export class ApiFailure {
  readonly status: number
  readonly reason: string
  readonly message: string
  constructor(status: number, reason: string, message: string) {
    this.status = status
    this.reason = reason
    this.message = message
  }
  toJSON() {
    return { error: { code: this.status, message: this.message, errors: [{ message: this.message, domain: "global", reason: this.reason }] } }
  }
}

export const notFound = (what: string) => new ApiFailure(404, "notFound", what)
const preconditionFailed = () => new ApiFailure(412, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.")

// Real generations are microsecond timestamps; keep that shape, strictly increasing.
let lastGeneration = 0
const nextGeneration = (): number => {
  lastGeneration = Math.max(lastGeneration + 1, Date.now() * 1000)
  return lastGeneration
}

export const checkPreconditions = (current: StoredObject | undefined, p: Preconditions): ApiFailure | undefined => {
  const generation = current?.generation ?? 0
  if (p.ifGenerationMatch !== undefined && p.ifGenerationMatch !== generation) return preconditionFailed()
  if (p.ifGenerationNotMatch !== undefined && p.ifGenerationNotMatch === generation) return preconditionFailed()
  if (p.ifMetagenerationMatch !== undefined && (current === undefined || current.metageneration !== p.ifMetagenerationMatch)) {
    return preconditionFailed()
  }
  if (p.ifMetagenerationNotMatch !== undefined && current !== undefined && current.metageneration === p.ifMetagenerationNotMatch) {
    return preconditionFailed()
  }
  return undefined
}

export const preconditionsFrom = (query: URLSearchParams): Preconditions => {
  const num = (key: string) => (query.has(key) ? Number(query.get(key)) : undefined)
  return {
    ifGenerationMatch: num("ifGenerationMatch"),
    ifGenerationNotMatch: num("ifGenerationNotMatch"),
    ifMetagenerationMatch: num("ifMetagenerationMatch"),
    ifMetagenerationNotMatch: num("ifMetagenerationNotMatch")
  }
}

export interface Checksums {
  readonly md5Hash: string
  readonly crc32c: string
}

export const checksums = (data: Uint8Array): Checksums => ({
  md5Hash: createHash("md5").update(data).digest("base64"),
  crc32c: Crc32c.toBase64(Crc32c.checksum(data))
})

/** Verifies checksums a client declared for its upload (metadata fields or `X-Goog-Hash`). */
export const verifyDeclared = (actual: Checksums, declared: { readonly md5Hash?: string | undefined; readonly crc32c?: string | undefined }) => {
  if (declared.crc32c !== undefined && declared.crc32c !== actual.crc32c) {
    return new ApiFailure(400, "invalid", `Provided CRC32C "${declared.crc32c}" doesn't match calculated CRC32C "${actual.crc32c}".`)
  }
  if (declared.md5Hash !== undefined && declared.md5Hash !== actual.md5Hash) {
    return new ApiFailure(400, "invalid", `Provided MD5 hash "${declared.md5Hash}" doesn't match calculated MD5 hash "${actual.md5Hash}".`)
  }
  return undefined
}

/** Parses `X-Goog-Hash: crc32c=...,md5=...`. */
export const parseGoogHash = (header: string | undefined): { md5Hash?: string; crc32c?: string } => {
  const out: { md5Hash?: string; crc32c?: string } = {}
  for (const pair of (header ?? "").split(",")) {
    const at = pair.indexOf("=")
    if (at < 0) continue
    const kind = pair.slice(0, at).trim()
    const value = pair.slice(at + 1).trim()
    if (kind === "crc32c") out.crc32c = value
    if (kind === "md5") out.md5Hash = value
  }
  return out
}

/** Stores an object if the preconditions hold; the check and the write happen in one turn, so they are atomic. */
export const commit = (
  bucket: Bucket,
  input: {
    readonly name: string
    readonly data: Buffer
    readonly contentType?: string | undefined
    readonly metadata?: Readonly<Record<string, string>> | undefined
    readonly preconditions: Preconditions
    /** When already computed (a resumable upload hashes its chunks as they arrive). */
    readonly checksums?: Checksums | undefined
  }
): StoredObject | ApiFailure => {
  const current = bucket.objects.get(input.name)
  const failed = checkPreconditions(current, input.preconditions)
  if (failed) return failed
  const object: StoredObject = {
    bucket: bucket.name,
    name: input.name,
    data: input.data,
    generation: nextGeneration(),
    metageneration: 1,
    contentType: input.contentType ?? "application/octet-stream",
    metadata: { ...input.metadata },
    ...(input.checksums ?? checksums(input.data)),
    timeCreated: new Date().toISOString()
  }
  bucket.objects.set(input.name, object)
  return object
}

export const resource = (baseUrl: string, object: StoredObject) => {
  const encoded = encodeURIComponent(object.name)
  return {
    kind: "storage#object",
    id: `${object.bucket}/${object.name}/${object.generation}`,
    selfLink: `${baseUrl}/storage/v1/b/${object.bucket}/o/${encoded}`,
    mediaLink: `${baseUrl}/download/storage/v1/b/${object.bucket}/o/${encoded}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket: object.bucket,
    generation: String(object.generation),
    metageneration: String(object.metageneration),
    contentType: object.contentType,
    storageClass: "STANDARD",
    size: String(object.data.byteLength),
    md5Hash: object.md5Hash,
    crc32c: object.crc32c,
    etag: Buffer.from(String(object.generation)).toString("base64"),
    timeCreated: object.timeCreated,
    updated: object.timeCreated,
    ...(Object.keys(object.metadata).length > 0 ? { metadata: object.metadata } : {})
  }
}

export const bucketResource = (bucket: Bucket) => ({
  kind: "storage#bucket",
  id: bucket.name,
  name: bucket.name,
  projectNumber: "0",
  metageneration: "1",
  location: "US",
  storageClass: "STANDARD",
  timeCreated: bucket.timeCreated,
  updated: bucket.timeCreated,
  etag: "CAE="
})

/**
 * Lists like `objects.list`: names in lexicographic order, `prefixes` for
 * names that go on past the delimiter, at most `maxResults` entries (items
 * and prefixes) per page, and an opaque token for the next page.
 */
export const list = (bucket: Bucket, query: URLSearchParams) => {
  const prefix = query.get("prefix") ?? ""
  const delimiter = query.get("delimiter") ?? ""
  const startOffset = query.get("startOffset") ?? ""
  const endOffset = query.get("endOffset")
  const maxResults = Math.max(1, Math.min(1000, Number(query.get("maxResults") ?? 1000) || 1000))
  const token = query.get("pageToken")
  const after = token ? Buffer.from(token, "base64url").toString("utf8") : undefined
  const names = Array.from(bucket.objects.keys())
    .filter((n) => n.startsWith(prefix) && n >= startOffset && (endOffset === null || n < endOffset))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const items: Array<StoredObject> = []
  const prefixes: Array<string> = []
  let last: string | undefined
  let more = false
  for (const name of names) {
    const rest = name.slice(prefix.length)
    const cut = delimiter === "" ? -1 : rest.indexOf(delimiter)
    // A folder-like prefix sorts by its own text: it follows every name it covers.
    const entry = cut < 0 ? name : prefix + rest.slice(0, cut + delimiter.length)
    if (after !== undefined && entry <= after) continue
    if (entry === last) continue
    if (items.length + prefixes.length === maxResults) {
      more = true
      break
    }
    if (cut < 0) items.push(bucket.objects.get(name)!)
    else prefixes.push(entry)
    last = entry
  }
  return { items, prefixes, nextPageToken: more && last !== undefined ? Buffer.from(last, "utf8").toString("base64url") : undefined }
}

/** Parses a `multipart/related` body: the JSON metadata part and the media part. */
export const parseMultipart = (body: Buffer, contentType: string): { metadata: Record<string, any>; data: Buffer } | ApiFailure => {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1]
  if (boundary === undefined) return new ApiFailure(400, "invalid", "multipart upload without a boundary")
  const delimiter = Buffer.from(`--${boundary}`)
  const parts: Array<Buffer> = []
  let at = body.indexOf(delimiter)
  while (at >= 0) {
    const start = at + delimiter.length
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break // closing delimiter
    const next = body.indexOf(delimiter, start)
    if (next < 0) break
    // Each part: CRLF, headers, CRLF CRLF, content, CRLF before the next delimiter.
    let part = body.subarray(start, next)
    if (part[0] === 0x0d && part[1] === 0x0a) part = part.subarray(2)
    if (part[part.length - 2] === 0x0d && part[part.length - 1] === 0x0a) part = part.subarray(0, part.length - 2)
    parts.push(part)
    at = next
  }
  if (parts.length !== 2) return new ApiFailure(400, "invalid", `multipart upload must have 2 parts, found ${parts.length}`)
  const split = (part: Buffer) => {
    const end = part.indexOf("\r\n\r\n")
    return end < 0 ? part : part.subarray(end + 4)
  }
  try {
    return { metadata: JSON.parse(split(parts[0]!).toString("utf8") || "{}"), data: Buffer.from(split(parts[1]!)) }
  } catch (error) {
    return new ApiFailure(400, "parseError", `metadata part is not JSON: ${String(error)}`)
  }
}

// Parses a resumable upload's `Content-Range`: "bytes */N" (a status query), "bytes A-B/N", "bytes A-*/*"...
export const parseContentRange = (header: string | undefined):
  | { readonly kind: "query"; readonly total: number | undefined }
  | { readonly kind: "data"; readonly first: number; readonly last: number | undefined; readonly total: number | undefined }
  | undefined => {
  if (header === undefined) return { kind: "data", first: 0, last: undefined, total: undefined }
  const m = /^bytes (\*|(\d+)-(\d+|\*))\/(\*|\d+)$/.exec(header.trim())
  if (m === null) return undefined
  const total = m[4] === "*" ? undefined : Number(m[4])
  if (m[1] === "*") return { kind: "query", total }
  return { kind: "data", first: Number(m[2]), last: m[3] === "*" ? undefined : Number(m[3]), total }
}

/** Appends bytes that arrived for a resumable session, hashing them on the way. */
export const append = (session: UploadSession, bytes: Buffer): void => {
  if (bytes.byteLength === 0) return
  session.chunks.push(bytes)
  session.persisted += bytes.byteLength
  session.md5.update(bytes)
  session.crc32c = Crc32c.update(session.crc32c, bytes)
}

/** The checksums of a session's bytes so far (the md5 state is copied, not finished). */
export const sessionChecksums = (session: UploadSession): Checksums => ({
  md5Hash: session.md5.copy().digest("base64"),
  crc32c: Crc32c.toBase64(session.crc32c)
})
