/**
 * An OTLP/HTTP traces receiver on 127.0.0.1 for the tests: it accepts
 * `POST /v1/traces` in either encoding a collector takes (protobuf, the
 * default, or JSON), decodes each request into plain spans and keeps them.
 *
 * The protobuf decoder reads the wire format of
 * opentelemetry/proto/trace/v1/trace.proto for the fields the tests look at,
 * independently of Effect's encoder, so that the tests check what a
 * collector would read.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface ReceivedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly name: string
  readonly startNanos: bigint
  readonly endNanos: bigint
  readonly attributes: Record<string, unknown>
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number
  readonly statusMessage: string | undefined
  /** The resource's attributes (`service.name`, ...). */
  readonly resource: Record<string, unknown>
}

export interface Receiver {
  /** The base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` or `--otlp` take it. */
  readonly url: string
  readonly spans: Array<ReceivedSpan>
  /** The content types of the requests received. */
  readonly contentTypes: Array<string>
  readonly close: () => Promise<void>
}

export const start = (): Promise<Receiver> =>
  new Promise((resolve, reject) => {
    const spans: Array<ReceivedSpan> = []
    const contentTypes: Array<string> = []
    const server = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        if (request.method !== "POST" || request.url !== "/v1/traces") {
          response.writeHead(404).end()
          return
        }
        const type = String(request.headers["content-type"] ?? "")
        contentTypes.push(type)
        const body = Buffer.concat(chunks)
        try {
          spans.push(...(type.includes("json") ? fromJson(JSON.parse(body.toString("utf8"))) : fromProtobuf(body)))
          response.writeHead(200, { "content-type": "application/json" }).end("{}")
        } catch (error) {
          response.writeHead(400).end(String(error))
        }
      })
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        spans,
        contentTypes,
        close: () => new Promise((done) => server.close(() => done()))
      })
    })
  })

// JSON (OTLP/JSON: ids as hex, 64-bit integers possibly as strings)

const jsonValue = (value: any): unknown => {
  if (value === undefined || value === null) return undefined
  if ("stringValue" in value) return value.stringValue
  if ("boolValue" in value) return value.boolValue
  if ("intValue" in value) return Number(value.intValue)
  if ("doubleValue" in value) return Number(value.doubleValue)
  if ("arrayValue" in value) return (value.arrayValue.values ?? []).map(jsonValue)
  return undefined
}

const jsonAttributes = (list: ReadonlyArray<any> | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]))

const fromJson = (data: any): Array<ReceivedSpan> =>
  (data.resourceSpans ?? []).flatMap((rs: any) =>
    (rs.scopeSpans ?? []).flatMap((ss: any) =>
      (ss.spans ?? []).map((s: any): ReceivedSpan => ({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId || undefined,
        name: s.name,
        startNanos: BigInt(s.startTimeUnixNano),
        endNanos: BigInt(s.endTimeUnixNano),
        attributes: jsonAttributes(s.attributes),
        statusCode: s.status?.code ?? 0,
        statusMessage: s.status?.message,
        resource: jsonAttributes(rs.resource?.attributes)
      }))
    )
  )

// Protobuf wire format

type Field = { readonly number: number; readonly wire: number; readonly varint?: bigint; readonly bytes?: Uint8Array }

const fields = (bytes: Uint8Array): Array<Field> => {
  const out: Array<Field> = []
  let at = 0
  const varint = (): bigint => {
    let result = 0n
    let shift = 0n
    for (;;) {
      if (at >= bytes.length) throw new Error("truncated varint")
      const byte = bytes[at++]!
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result
      shift += 7n
    }
  }
  while (at < bytes.length) {
    const tag = Number(varint())
    const number = tag >>> 3
    const wire = tag & 7
    if (wire === 0) out.push({ number, wire, varint: varint() })
    else if (wire === 1) {
      out.push({ number, wire, bytes: bytes.subarray(at, at + 8) })
      at += 8
    } else if (wire === 2) {
      const length = Number(varint())
      if (at + length > bytes.length) throw new Error("truncated field")
      out.push({ number, wire, bytes: bytes.subarray(at, at + length) })
      at += length
    } else if (wire === 5) {
      out.push({ number, wire, bytes: bytes.subarray(at, at + 4) })
      at += 4
    } else throw new Error(`unsupported wire type ${wire}`)
  }
  return out
}

const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? "" : new TextDecoder().decode(bytes))
const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? "" : Buffer.from(bytes).toString("hex"))
const fixed64 = (bytes: Uint8Array) => Buffer.from(bytes).readBigUInt64LE(0)
const all = (list: Array<Field>, number: number) => list.filter((f) => f.number === number)
const one = (list: Array<Field>, number: number) => list.find((f) => f.number === number)

/** AnyValue: string 1, bool 2, int64 3, double 4, array 5. */
const anyValue = (bytes: Uint8Array): unknown => {
  const f = fields(bytes)[0]
  if (f === undefined) return undefined
  switch (f.number) {
    case 1:
      return text(f.bytes)
    case 2:
      return f.varint === 1n
    case 3:
      return Number(BigInt.asIntN(64, f.varint!))
    case 4:
      return Buffer.from(f.bytes!).readDoubleLE(0)
    case 5:
      return all(fields(f.bytes!), 1).map((v) => anyValue(v.bytes!))
    default:
      return undefined
  }
}

/** KeyValue: key 1, value 2. */
const attributes = (list: Array<Field>): Record<string, unknown> =>
  Object.fromEntries(list.map((kv) => {
    const f = fields(kv.bytes!)
    const value = one(f, 2)
    return [text(one(f, 1)?.bytes), value === undefined ? undefined : anyValue(value.bytes!)]
  }))

/** TracesData 1 -> ResourceSpans (resource 1, scope_spans 2) -> ScopeSpans (spans 2) -> Span. */
const fromProtobuf = (body: Uint8Array): Array<ReceivedSpan> =>
  all(fields(body), 1).flatMap((rs) => {
    const rsFields = fields(rs.bytes!)
    const resourceBytes = one(rsFields, 1)?.bytes
    const resource = resourceBytes === undefined ? {} : attributes(all(fields(resourceBytes), 1))
    return all(rsFields, 2).flatMap((ss) =>
      all(fields(ss.bytes!), 2).map((span): ReceivedSpan => {
        // Span: trace_id 1, span_id 2, parent_span_id 4, name 5, start 7, end 8, attributes 9, status 15 (message 2, code 3).
        const s = fields(span.bytes!)
        const status = one(s, 15)?.bytes
        const statusFields = status === undefined ? [] : fields(status)
        const parent = hex(one(s, 4)?.bytes)
        return {
          traceId: hex(one(s, 1)?.bytes),
          spanId: hex(one(s, 2)?.bytes),
          parentSpanId: parent === "" ? undefined : parent,
          name: text(one(s, 5)?.bytes),
          startNanos: fixed64(one(s, 7)!.bytes!),
          endNanos: fixed64(one(s, 8)!.bytes!),
          attributes: attributes(all(s, 9)),
          statusCode: Number(one(statusFields, 3)?.varint ?? 0n),
          statusMessage: one(statusFields, 2) === undefined ? undefined : text(one(statusFields, 2)!.bytes),
          resource
        }
      })
    )
  })
