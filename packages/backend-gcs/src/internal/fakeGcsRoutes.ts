/**
 * How the fake GCS server reads a request: which operation it is, on which
 * bucket and object, what permission it needs, and whether a fault rule
 * matches it.
 */
import type { Match, Operation } from "../testing/FakeGcsServer.ts"

export interface Route {
  readonly operation: Operation
  readonly bucket: string | undefined
  readonly name: string | undefined
  readonly destination?: { readonly bucket: string; readonly name: string } | undefined
}

export const route = (method: string, url: URL): Route => {
  const parts = url.pathname.split("/").filter((p) => p !== "").map(decodeURIComponent)
  const q = url.searchParams
  const unknown: Route = { operation: "unknown", bucket: undefined, name: undefined }
  let base = 0
  if (parts[0] === "upload" || parts[0] === "download") base = 1
  if (parts[base] !== "storage" || parts[base + 1] !== "v1" || parts[base + 2] !== "b") return unknown
  const bucket = parts[base + 3]
  const rest = parts.slice(base + 4)
  if (parts[0] === "upload") {
    if (rest.length !== 1 || rest[0] !== "o") return { ...unknown, bucket }
    const name = q.get("name") ?? undefined
    if (method === "PUT" || q.has("upload_id")) return { operation: "upload.resumable.chunk", bucket, name }
    const type = q.get("uploadType")
    return {
      operation: type === "resumable" ? "upload.resumable.start" : type === "multipart" ? "upload.multipart" : "upload.media",
      bucket,
      name
    }
  }
  if (rest.length === 0) return { operation: method === "GET" ? "bucket.get" : "unknown", bucket, name: undefined }
  if (rest[0] !== "o") return { ...unknown, bucket }
  if (rest.length === 1) return { operation: method === "GET" ? "object.list" : "unknown", bucket, name: undefined }
  const name = rest[1]
  if (rest.length === 7 && (rest[2] === "rewriteTo" || rest[2] === "copyTo") && rest[3] === "b" && rest[5] === "o") {
    return { operation: "object.rewrite", bucket, name, destination: { bucket: rest[4]!, name: rest[6]! } }
  }
  if (rest.length !== 2) return { ...unknown, bucket, name }
  if (method === "GET") {
    return { operation: parts[0] === "download" || q.get("alt") === "media" ? "object.media" : "object.get", bucket, name }
  }
  if (method === "DELETE") return { operation: "object.delete", bucket, name }
  if (method === "PATCH" || method === "PUT") return { operation: "object.patch", bucket, name }
  return { ...unknown, bucket, name }
}

export const WRITES: ReadonlySet<Operation> = new Set([
  "object.delete",
  "object.patch",
  "object.rewrite",
  "upload.media",
  "upload.multipart",
  "upload.resumable.start",
  "upload.resumable.chunk"
])

export const MID_TRANSFER: ReadonlySet<Operation> = new Set(["upload.media", "upload.multipart", "upload.resumable.chunk", "object.media"])

export const PERMISSION: Record<Operation, string> = {
  "bucket.get": "storage.buckets.get",
  "object.get": "storage.objects.get",
  "object.media": "storage.objects.get",
  "object.list": "storage.objects.list",
  "object.delete": "storage.objects.delete",
  "object.patch": "storage.objects.update",
  "object.rewrite": "storage.objects.create",
  "upload.media": "storage.objects.create",
  "upload.multipart": "storage.objects.create",
  "upload.resumable.start": "storage.objects.create",
  "upload.resumable.chunk": "storage.objects.create",
  "upload.resumable.status": "storage.objects.create",
  unknown: "storage.objects.get"
}

export const matches = (match: Match | undefined, method: string, r: Route): boolean => {
  if (match === undefined) return true
  if (match.method !== undefined && match.method.toUpperCase() !== method) return false
  if (match.bucket !== undefined && match.bucket !== r.bucket) return false
  if (match.operation !== undefined) {
    const ops: ReadonlyArray<Operation> = typeof match.operation === "string" ? [match.operation] : match.operation
    if (!ops.includes(r.operation)) return false
  }
  if (match.name !== undefined) {
    if (r.name === undefined) return false
    if (typeof match.name === "string" ? r.name !== match.name : !match.name.test(r.name)) return false
  }
  return true
}

