/**
 * A fake Google Cloud Storage server for tests and benchmarks: an HTTP server
 * on 127.0.0.1 speaking the part of the GCS JSON API that the official
 * `@google-cloud/storage` client uses. It is a test double, not an emulator:
 * one process, objects in memory, only the latest generation of each object.
 *
 * Covered: bucket get; object metadata and media GET (with `Range`); list
 * with `prefix`, `delimiter`, `startOffset`/`endOffset`, `maxResults` and
 * `pageToken`; delete; rewrite/copy; metadata patch; simple (`media`),
 * `multipart` and `resumable` uploads (status queries, chunks, resuming after
 * a dropped connection); generation numbers and the `ifGenerationMatch` /
 * `ifGenerationNotMatch` / `ifMetagenerationMatch` preconditions (412, with
 * `ifGenerationMatch=0` meaning "must not exist"); `md5Hash` and `crc32c`
 * fields and `x-goog-hash` headers, so the client's download and upload
 * validation runs for real; per-bucket access (read-write, read-only, none)
 * answering 401/403 like GCS.
 *
 * Faults on demand: an HTTP status for the Nth matching request (a burst of
 * 503s, a 429, a 403), a connection dropped after N bytes of an upload or a
 * download, added latency.
 *
 * Point the client at it with `new Storage({ apiEndpoint: server.url })`:
 * with a custom endpoint the client sends no credentials.
 *
 * @since 0.1.0
 */
import { createHash, randomUUID } from "node:crypto"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Fake from "../internal/fakeGcs.ts"
import { matches, MID_TRANSFER, PERMISSION, type Route, route, WRITES } from "../internal/fakeGcsRoutes.ts"

/**
 * What a request does, as the fault rules and the request log name it.
 *
 * @since 0.1.0
 */
export type Operation =
  | "bucket.get"
  | "object.get"
  | "object.media"
  | "object.list"
  | "object.delete"
  | "object.patch"
  | "object.rewrite"
  | "upload.media"
  | "upload.multipart"
  | "upload.resumable.start"
  | "upload.resumable.chunk"
  | "upload.resumable.status"
  | "unknown"

/**
 * @since 0.1.0
 */
export type Fault =
  /** Answer with this status and a GCS-shaped JSON error. */
  | { readonly status: number; readonly message?: string | undefined }
  /** Read (or, for a download, send) this many body bytes, then destroy the socket. */
  | { readonly dropAfterBytes: number }
  /** Wait, then serve the request normally. */
  | { readonly latencyMs: number }
  /** Serve the request (an upload is stored), then destroy the socket instead of answering. */
  | { readonly dropResponse: true }

/**
 * @since 0.1.0
 */
export interface Match {
  readonly operation?: Operation | ReadonlyArray<Operation> | undefined
  readonly method?: string | undefined
  /** The object name (or a pattern it must match). */
  readonly name?: string | RegExp | undefined
  readonly bucket?: string | undefined
}

/**
 * A rule: `fault` applies to the `nth` matching request (1-based, default 1)
 * and the `times - 1` matching requests after it (default 1).
 *
 * @since 0.1.0
 */
export interface FaultRule {
  readonly when?: Match | undefined
  readonly nth?: number | undefined
  readonly times?: number | undefined
  readonly fault: Fault
}

/**
 * @since 0.1.0
 */
export interface LoggedRequest {
  readonly method: string
  readonly operation: Operation
  readonly bucket: string | undefined
  readonly name: string | undefined
  /** The answer's status; 0 when the connection was dropped. */
  status: number
  /** Set when a fault rule changed the answer. */
  fault: string | undefined
}

/**
 * @since 0.1.0
 */
export interface Options {
  /** Buckets that exist from the start. */
  readonly buckets?: ReadonlyArray<string> | undefined
  /** Latency added to every request. */
  readonly latencyMs?: number | undefined
  /** Keep a log of requests (default true; benchmarks turn it off). */
  readonly log?: boolean | undefined
}

/**
 * @since 0.1.0
 */
export interface FakeGcsServer {
  /** `http://127.0.0.1:PORT`: the client's `apiEndpoint`. */
  readonly url: string
  readonly createBucket: (name: string, options?: { readonly access?: Fake.Access | undefined }) => void
  /** `read-only` refuses writes with 403, `none` refuses everything; `status` picks 403 or 401. */
  readonly setAccess: (bucket: string, access: Fake.Access, status?: 401 | 403) => void
  /** Adds a fault rule; returns how many requests it has hit so far. */
  readonly inject: (rule: FaultRule) => { readonly hits: () => number }
  readonly clearFaults: () => void
  setLatency(ms: number): void
  /** Direct access to stored objects, for tests that corrupt or delete behind the client's back. */
  readonly objects: (bucket: string) => Map<string, Fake.StoredObject>
  readonly putObject: (bucket: string, name: string, data: Uint8Array) => void
  readonly deleteObject: (bucket: string, name: string) => boolean
  readonly requests: ReadonlyArray<LoggedRequest>
  readonly count: (match?: Match) => number
  readonly resetLog: () => void
  /** The most requests in progress at once since the last `resetLog`. */
  readonly maxInFlight: () => number
  readonly close: () => Promise<void>
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Starts a server on 127.0.0.1 with a random port.
 *
 * @since 0.1.0
 */
export const start = async (options: Options = {}): Promise<FakeGcsServer> => {
  const buckets = new Map<string, Fake.Bucket>()
  const sessions = new Map<string, Fake.UploadSession>()
  const rules: Array<{ rule: FaultRule; seen: number; hits: number }> = []
  const log: Array<LoggedRequest> = []
  const keepLog = options.log ?? true
  let latencyMs = options.latencyMs ?? 0
  let baseUrl = ""
  let inFlight = 0
  let maxInFlight = 0
  const swallowAnswer = new WeakSet<Http.ServerResponse>()

  const createBucket = (name: string, o?: { readonly access?: Fake.Access | undefined }) => {
    if (!buckets.has(name)) {
      buckets.set(name, { name, timeCreated: new Date().toISOString(), objects: new Map(), access: o?.access ?? "read-write", deniedStatus: 403 })
    }
  }
  for (const name of options.buckets ?? []) createBucket(name)

  const send = (res: Http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    if (swallowAnswer.has(res)) {
      res.socket?.destroy()
      return
    }
    const text = body === undefined ? "" : JSON.stringify(body)
    res.writeHead(status, {
      ...(body === undefined ? {} : { "Content-Type": "application/json; charset=UTF-8" }),
      "Content-Length": String(Buffer.byteLength(text)),
      ...headers
    })
    res.end(text)
  }
  const fail = (res: Http.ServerResponse, failure: Fake.ApiFailure, headers: Record<string, string> = {}) =>
    send(res, failure.status, failure.toJSON(), headers)

  /**
   * Reads the body; with `dropAfter`, keeps that many bytes and destroys the
   * socket. With `onChunk`, hands over each chunk as it arrives instead of
   * collecting them (the body is then empty).
   */
  const readBody = (req: Http.IncomingMessage, dropAfter?: number, onChunk?: (chunk: Buffer) => void): Promise<{ body: Buffer; dropped: boolean }> =>
    new Promise((resolve, reject) => {
      const chunks: Array<Buffer> = []
      const keep = onChunk ?? ((chunk: Buffer) => void chunks.push(chunk))
      let size = 0
      let done = false
      req.on("data", (chunk: Buffer) => {
        if (done) return
        if (dropAfter !== undefined && size + chunk.length >= dropAfter) {
          keep(chunk.subarray(0, dropAfter - size))
          done = true
          req.socket.destroy()
          resolve({ body: Buffer.concat(chunks), dropped: true })
          return
        }
        keep(chunk)
        size += chunk.length
      })
      req.on("end", () => {
        if (done) return
        done = true
        if (dropAfter !== undefined) {
          // The whole body arrived before the drop point: drop before answering.
          req.socket.destroy()
          resolve({ body: Buffer.concat(chunks), dropped: true })
        } else resolve({ body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), dropped: false })
      })
      req.on("error", (error) => {
        if (!done) reject(error)
      })
    })

  const sendMedia = (req: Http.IncomingMessage, res: Http.ServerResponse, object: Fake.StoredObject, dropAfter?: number) => {
    const size = object.data.byteLength
    let start = 0
    let end = size - 1
    let status = 200
    const range = req.headers.range
    const headers: Record<string, string> = {
      "Content-Type": object.contentType,
      "x-goog-generation": String(object.generation),
      "x-goog-metageneration": String(object.metageneration),
      "x-goog-hash": `crc32c=${object.crc32c},md5=${object.md5Hash}`,
      "x-goog-stored-content-encoding": "identity",
      "x-goog-stored-content-length": String(size),
      "x-goog-storage-class": "STANDARD",
      ETag: `"${object.md5Hash}"`,
      "Accept-Ranges": "bytes"
    }
    if (range !== undefined) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim())
      if (m === null || (m[1] === "" && m[2] === "")) return fail(res, new Fake.ApiFailure(400, "invalid", `bad Range header: ${range}`))
      if (m[1] === "") {
        start = Math.max(0, size - Number(m[2]))
      } else {
        start = Number(m[1])
        if (m[2] !== "") end = Math.min(end, Number(m[2]))
      }
      if (start >= size && size > 0) {
        return fail(res, new Fake.ApiFailure(416, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied."), {
          "Content-Range": `bytes */${size}`
        })
      }
      status = 206
      headers["Content-Range"] = `bytes ${start}-${end}/${size}`
    }
    const body = object.data.subarray(start, end + 1)
    headers["Content-Length"] = String(body.byteLength)
    if (swallowAnswer.has(res)) {
      res.socket?.destroy()
      return
    }
    res.writeHead(status, headers)
    if (dropAfter !== undefined) {
      res.write(body.subarray(0, Math.min(dropAfter, body.byteLength)), () => res.socket?.destroy())
      return
    }
    res.end(body)
  }

  const handle = async (req: Http.IncomingMessage, res: Http.ServerResponse, r: Route, url: URL, dropAfter: number | undefined) => {
    const method = req.method ?? "GET"
    const q = url.searchParams
    // Uploads to a session carry no bucket check: the session id is the credential.
    if (r.operation === "upload.resumable.chunk" || r.operation === "upload.resumable.status") return handleChunk(req, res, q, dropAfter)
    const bucket = r.bucket === undefined ? undefined : buckets.get(r.bucket)
    if (bucket === undefined) {
      await readBody(req)
      return fail(res, Fake.notFound("The specified bucket does not exist."))
    }
    if (bucket.access === "none" || (bucket.access === "read-only" && WRITES.has(r.operation))) {
      await readBody(req)
      const who = bucket.deniedStatus === 401 ? "Anonymous caller" : "caller@example.iam.gserviceaccount.com"
      const message = `${who} does not have ${PERMISSION[r.operation]} access to the Google Cloud Storage ${
        r.name === undefined ? "bucket" : "object"
      }. Permission '${PERMISSION[r.operation]}' denied on resource (or it may not exist).`
      return fail(res, new Fake.ApiFailure(bucket.deniedStatus, bucket.deniedStatus === 401 ? "required" : "forbidden", message))
    }
    const noSuchObject = () => Fake.notFound(`No such object: ${bucket.name}/${r.name}`)

    switch (r.operation) {
      case "bucket.get":
        return send(res, 200, Fake.bucketResource(bucket))
      case "object.list": {
        const page = Fake.list(bucket, q)
        return send(res, 200, {
          kind: "storage#objects",
          ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
          ...(page.prefixes.length > 0 ? { prefixes: page.prefixes } : {}),
          ...(page.items.length > 0 ? { items: page.items.map((o) => Fake.resource(baseUrl, o)) } : {})
        })
      }
      case "object.get":
      case "object.media": {
        const object = bucket.objects.get(r.name!)
        if (object === undefined || (q.has("generation") && Number(q.get("generation")) !== object.generation)) return fail(res, noSuchObject())
        const failed = Fake.checkPreconditions(object, Fake.preconditionsFrom(q))
        if (failed) return fail(res, failed)
        if (r.operation === "object.get") return send(res, 200, Fake.resource(baseUrl, object))
        return sendMedia(req, res, object, dropAfter)
      }
      case "object.delete": {
        const object = bucket.objects.get(r.name!)
        if (object === undefined) return fail(res, noSuchObject())
        const failed = Fake.checkPreconditions(object, Fake.preconditionsFrom(q))
        if (failed) return fail(res, failed)
        bucket.objects.delete(r.name!)
        return send(res, 204)
      }
      case "object.patch": {
        const { body } = await readBody(req)
        const object = bucket.objects.get(r.name!)
        if (object === undefined) return fail(res, noSuchObject())
        const failed = Fake.checkPreconditions(object, Fake.preconditionsFrom(q))
        if (failed) return fail(res, failed)
        const patch = body.byteLength > 0 ? JSON.parse(body.toString("utf8")) : {}
        const metadata: Record<string, string> = { ...object.metadata }
        for (const [k, v] of Object.entries(patch.metadata ?? {})) {
          if (v === null) delete metadata[k]
          else metadata[k] = String(v)
        }
        const updated: Fake.StoredObject = {
          ...object,
          metageneration: object.metageneration + 1,
          contentType: patch.contentType ?? object.contentType,
          metadata
        }
        bucket.objects.set(object.name, updated)
        return send(res, 200, Fake.resource(baseUrl, updated))
      }
      case "object.rewrite": {
        const { body } = await readBody(req)
        const source = bucket.objects.get(r.name!)
        if (source === undefined) return fail(res, noSuchObject())
        const target = buckets.get(r.destination!.bucket)
        if (target === undefined) return fail(res, Fake.notFound("The specified bucket does not exist."))
        const patch = body.byteLength > 0 ? JSON.parse(body.toString("utf8")) : {}
        const made = Fake.commit(target, {
          name: r.destination!.name,
          data: source.data,
          contentType: patch.contentType ?? source.contentType,
          metadata: patch.metadata ?? source.metadata,
          preconditions: Fake.preconditionsFrom(q)
        })
        if (made instanceof Fake.ApiFailure) return fail(res, made)
        const size = String(made.data.byteLength)
        return send(res, 200, {
          kind: "storage#rewriteResponse",
          totalBytesRewritten: size,
          objectSize: size,
          done: true,
          resource: Fake.resource(baseUrl, made)
        })
      }
      case "upload.media":
      case "upload.multipart": {
        const { body, dropped } = await readBody(req, dropAfter)
        if (dropped) return
        let data = body
        let metadata: Record<string, any> = {}
        if (r.operation === "upload.multipart") {
          const parsed = Fake.parseMultipart(body, req.headers["content-type"] ?? "")
          if (parsed instanceof Fake.ApiFailure) return fail(res, parsed)
          data = parsed.data
          metadata = parsed.metadata
        }
        const name = q.get("name") ?? metadata.name
        if (typeof name !== "string" || name === "") return fail(res, new Fake.ApiFailure(400, "required", "Required object name"))
        const declared = Fake.verifyDeclared(Fake.checksums(data), { md5Hash: metadata.md5Hash, crc32c: metadata.crc32c })
        if (declared) return fail(res, declared)
        const made = Fake.commit(bucket, {
          name,
          data,
          contentType: metadata.contentType ?? req.headers["content-type"],
          metadata: metadata.metadata,
          preconditions: Fake.preconditionsFrom(q)
        })
        if (made instanceof Fake.ApiFailure) return fail(res, made)
        return send(res, 200, Fake.resource(baseUrl, made))
      }
      case "upload.resumable.start": {
        const { body } = await readBody(req)
        const metadata = body.byteLength > 0 ? JSON.parse(body.toString("utf8")) : {}
        const name = q.get("name") ?? metadata.name
        if (typeof name !== "string" || name === "") return fail(res, new Fake.ApiFailure(400, "required", "Required object name"))
        const preconditions = Fake.preconditionsFrom(q)
        const failed = Fake.checkPreconditions(bucket.objects.get(name), preconditions)
        if (failed) return fail(res, failed)
        const id = randomUUID()
        const length = req.headers["x-upload-content-length"]
        sessions.set(id, {
          id,
          bucket: bucket.name,
          name,
          contentType: metadata.contentType ?? (req.headers["x-upload-content-type"] as string | undefined) ?? "application/octet-stream",
          metadata: metadata.metadata ?? {},
          preconditions,
          total: length === undefined ? undefined : Number(length),
          chunks: [],
          persisted: 0,
          finalized: undefined,
          md5: createHash("md5"),
          crc32c: 0
        })
        const location = `${baseUrl}/upload/storage/v1/b/${encodeURIComponent(bucket.name)}/o?uploadType=resumable&name=${
          encodeURIComponent(name)
        }&upload_id=${id}`
        return send(res, 200, undefined, { Location: location })
      }
      default:
        await readBody(req)
        return fail(res, new Fake.ApiFailure(400, "invalid", `the fake GCS server does not support ${method} ${url.pathname}`))
    }
  }

  const handleChunk = async (req: Http.IncomingMessage, res: Http.ServerResponse, q: URLSearchParams, dropAfter: number | undefined) => {
    const session = sessions.get(q.get("upload_id") ?? "")
    const range = Fake.parseContentRange(req.headers["content-range"] as string | undefined)
    if (session === undefined) {
      await readBody(req)
      return fail(res, Fake.notFound("No such upload session."))
    }
    if (range === undefined) {
      await readBody(req)
      return fail(res, new Fake.ApiFailure(400, "invalid", `bad Content-Range: ${req.headers["content-range"]}`))
    }
    const bucket = buckets.get(session.bucket)
    if (bucket === undefined) {
      await readBody(req)
      return fail(res, Fake.notFound("The specified bucket does not exist."))
    }
    const incomplete = () =>
      send(res, 308, undefined, session.persisted > 0 ? { Range: `bytes=0-${session.persisted - 1}` } : {})
    const finalize = (declared: { md5Hash?: string; crc32c?: string }) => {
      const sums = Fake.sessionChecksums(session)
      const wrong = Fake.verifyDeclared(sums, declared)
      if (wrong) return fail(res, wrong)
      const made = Fake.commit(bucket, {
        name: session.name,
        data: session.chunks.length === 1 ? session.chunks[0]! : Buffer.concat(session.chunks),
        contentType: session.contentType,
        metadata: session.metadata,
        preconditions: session.preconditions,
        checksums: sums
      })
      if (made instanceof Fake.ApiFailure) {
        sessions.delete(session.id)
        return fail(res, made)
      }
      session.chunks.length = 0
      session.finalized = made
      return send(res, 200, Fake.resource(baseUrl, made))
    }
    if (range.kind === "query") {
      await readBody(req)
      if (session.finalized) return send(res, 200, Fake.resource(baseUrl, session.finalized))
      if (range.total !== undefined) session.total = range.total
      if (session.total !== undefined && session.persisted === session.total) return finalize({})
      return incomplete()
    }
    if (session.finalized) {
      await readBody(req, dropAfter)
      return send(res, 200, Fake.resource(baseUrl, session.finalized))
    }
    if (range.first > session.persisted) {
      await readBody(req)
      return fail(res, new Fake.ApiFailure(400, "invalid", `upload resumes at byte ${range.first}, but only ${session.persisted} bytes were received`))
    }
    // Bytes are kept (and hashed) as they arrive, so a dropped connection
    // keeps what got through. A client resending bytes we hold: skip them.
    let position = range.first
    const { dropped } = await readBody(req, dropAfter, (chunk) => {
      const skip = Math.max(0, session.persisted - position)
      position += chunk.byteLength
      if (skip < chunk.byteLength) Fake.append(session, chunk.subarray(skip))
    })
    if (dropped) return
    if (range.total !== undefined) session.total = range.total
    const last = range.last === undefined && range.total === undefined
      ? true // `bytes N-*/*`: one request carries the rest of the upload
      : session.total !== undefined && session.persisted >= session.total
    if (!last) return incomplete()
    return finalize(Fake.parseGoogHash(req.headers["x-goog-hash"] as string | undefined))
  }

  const server = Http.createServer((req, res) => {
    const method = req.method ?? "GET"
    const url = new URL(req.url ?? "/", baseUrl)
    const routed = route(method, url)
    // A PUT with `Content-Range: bytes */N` asks how much of an upload arrived.
    const isStatusQuery = routed.operation === "upload.resumable.chunk" && /^bytes \*\//.test(String(req.headers["content-range"] ?? ""))
    const effective: Route = isStatusQuery ? { ...routed, operation: "upload.resumable.status" } : routed
    const entry: LoggedRequest = { method, operation: effective.operation, bucket: effective.bucket, name: effective.name, status: 0, fault: undefined }
    if (keepLog) log.push(entry)
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    res.on("close", () => {
      inFlight--
    })
    res.on("finish", () => {
      entry.status = res.statusCode
    })
    let status: { status: number; message?: string | undefined } | undefined
    let dropAfter: number | undefined
    let extraLatency = 0
    for (const state of rules) {
      if (!matches(state.rule.when, method, effective)) continue
      state.seen++
      const first = state.rule.nth ?? 1
      if (state.seen < first || state.seen >= first + (state.rule.times ?? 1)) continue
      state.hits++
      const fault = state.rule.fault
      if ("status" in fault) {
        status ??= fault
        entry.fault = `status ${fault.status}`
      } else if ("dropAfterBytes" in fault) {
        dropAfter ??= fault.dropAfterBytes
        entry.fault = `drop after ${fault.dropAfterBytes} bytes`
      } else if ("dropResponse" in fault) {
        swallowAnswer.add(res)
        entry.fault = "response dropped"
      } else {
        extraLatency += fault.latencyMs
      }
    }
    void (async () => {
      const delay = latencyMs + extraLatency
      if (delay > 0) await sleep(delay)
      if (status !== undefined) {
        await readBody(req)
        const reason = status.status === 429 ? "rateLimitExceeded" : status.status >= 500 ? "backendError" : status.status === 403 ? "forbidden" : status.status === 401 ? "required" : "invalid"
        return fail(res, new Fake.ApiFailure(status.status, reason, status.message ?? `injected fault: ${status.status}`))
      }
      // Only transfers have a middle to cut; any other request is dropped before an answer.
      if (dropAfter !== undefined && !MID_TRANSFER.has(effective.operation)) {
        req.socket.destroy()
        return
      }
      return handle(req, res, effective, url, dropAfter)
    })().catch((error) => {
      if (!res.headersSent) fail(res, new Fake.ApiFailure(500, "backendError", `fake GCS server error: ${String(error)}`))
      else res.socket?.destroy()
    })
  })

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const bucketOrThrow = (name: string) => {
    const bucket = buckets.get(name)
    if (bucket === undefined) throw new Error(`fake GCS: no bucket ${name}`)
    return bucket
  }

  return {
    url: baseUrl,
    createBucket,
    setAccess: (name, access, status = 403) => {
      const bucket = bucketOrThrow(name)
      bucket.access = access
      bucket.deniedStatus = status
    },
    inject: (rule) => {
      const state = { rule, seen: 0, hits: 0 }
      rules.push(state)
      return { hits: () => state.hits }
    },
    clearFaults: () => void rules.splice(0),
    setLatency: (ms) => {
      latencyMs = ms
    },
    objects: (name) => bucketOrThrow(name).objects,
    putObject: (name, objectName, data) => {
      const made = Fake.commit(bucketOrThrow(name), { name: objectName, data: Buffer.from(data), preconditions: {} })
      if (made instanceof Fake.ApiFailure) throw new Error(made.message)
    },
    deleteObject: (name, objectName) => bucketOrThrow(name).objects.delete(objectName),
    requests: log,
    count: (match) => log.filter((e) => matches(match, e.method, e)).length,
    resetLog: () => {
      log.splice(0)
      maxInFlight = inFlight
    },
    maxInFlight: () => maxInFlight,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

/**
 * The `md5Hash` and `crc32c` fields the server reports for these bytes.
 *
 * @since 0.1.0
 */
export const checksums = (data: Uint8Array): { readonly md5Hash: string; readonly crc32c: string } => Fake.checksums(data)

/**
 * The server as a service, for tests built from layers.
 *
 * @since 0.1.0
 */
export class FakeGcs extends Context.Service<FakeGcs, FakeGcsServer>()("expops/testing/FakeGcsServer") {}

/**
 * Starts a server for the enclosing scope.
 *
 * @since 0.1.0
 */
export const make = (options?: Options): Effect.Effect<FakeGcsServer, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (server) => Effect.promise(() => server.close()))

/**
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<FakeGcs> => Layer.effect(FakeGcs, make(options))

// Standalone: `npx node src/testing/FakeGcsServer.ts [--bucket NAME]... [--latency-ms N]`
// prints `{"url": ...}` on one line and serves until killed (benchmarks run it in a separate process).
if (import.meta.main) {
  const args = process.argv.slice(2)
  const bucketNames = args.flatMap((a, i) => (a === "--bucket" ? [args[i + 1]!] : []))
  const latency = args.includes("--latency-ms") ? Number(args[args.indexOf("--latency-ms") + 1]) : 0
  const server = await start({ buckets: bucketNames, latencyMs: latency, log: false })
  process.stdout.write(JSON.stringify({ url: server.url }) + "\n")
}
