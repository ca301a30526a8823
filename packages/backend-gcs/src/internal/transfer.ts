/**
 * Object transfers on top of the official client's streams, without holding
 * an object twice in memory: downloads fill one buffer of the announced size,
 * uploads pass slices of the caller's buffer.
 */
import type { File } from "@google-cloud/storage"

const SLICE = 4 * 1024 * 1024

/** Reads an object; `undefined` when it does not exist. The client checks its CRC32C on the way. */
export const readObject = (file: File, signal: AbortSignal): Promise<Buffer | undefined> =>
  new Promise((resolve, reject) => {
    const stream = file.createReadStream({ validation: "crc32c" })
    let buffer: Buffer | undefined
    let filled = 0
    // Fallback when no length is announced (a transcoded object): collect chunks.
    let chunks: Array<Buffer> | undefined
    const onAbort = () => stream.destroy(new Error("interrupted"))
    signal.addEventListener("abort", onAbort, { once: true })
    const done = () => signal.removeEventListener("abort", onAbort)
    stream.on("response", (response: { headers?: Record<string, string | undefined> }) => {
      const headers = response.headers ?? {}
      const length = Number(headers["x-goog-stored-content-length"] ?? headers["content-length"])
      const encoding = headers["content-encoding"]
      if (Number.isSafeInteger(length) && length >= 0 && (encoding === undefined || encoding === "identity")) {
        buffer = Buffer.allocUnsafe(length)
      }
    })
    stream.on("data", (chunk: Buffer) => {
      if (buffer !== undefined && chunks === undefined && filled + chunk.byteLength <= buffer.byteLength) {
        chunk.copy(buffer, filled)
        filled += chunk.byteLength
        return
      }
      if (chunks === undefined) chunks = buffer === undefined ? [] : [buffer.subarray(0, filled)]
      chunks.push(chunk)
    })
    stream.on("end", () => {
      done()
      if (chunks !== undefined) return resolve(Buffer.concat(chunks))
      if (buffer === undefined) return resolve(Buffer.alloc(0))
      if (filled !== buffer.byteLength) {
        return reject(Object.assign(new Error(`download ended after ${filled} of ${buffer.byteLength} bytes`), { code: "ECONNRESET" }))
      }
      resolve(buffer)
    })
    stream.on("error", (error: any) => {
      done()
      if (error?.code === 404) resolve(undefined)
      else reject(error)
    })
  })

export interface WriteOptions {
  readonly resumable: boolean
  readonly contentType: string
  /** Custom metadata (`x-goog-meta-*`). */
  readonly metadata?: Readonly<Record<string, string>> | undefined
  readonly ifGenerationMatch?: number | undefined
  /** A resumable session to continue: the client asks the server how much it holds and sends the rest. */
  readonly sessionUri?: string | undefined
  readonly onSessionUri?: ((uri: string) => void) | undefined
}

/** Writes an object from a buffer, in slices, honouring backpressure. */
export const writeObject = (file: File, data: Uint8Array, options: WriteOptions, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const stream = file.createWriteStream({
      resumable: options.resumable,
      validation: "crc32c",
      contentType: options.contentType,
      metadata: {
        ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
        ...(options.resumable ? { contentLength: data.byteLength } : {})
      },
      ...(options.ifGenerationMatch === undefined ? {} : { preconditionOpts: { ifGenerationMatch: options.ifGenerationMatch } }),
      ...(options.sessionUri === undefined ? {} : { uri: options.sessionUri })
    })
    let settled = false
    const finish = (error?: unknown) => {
      if (settled) return
      settled = true
      signal.removeEventListener("abort", onAbort)
      if (error === undefined) resolve()
      else reject(error)
    }
    const onAbort = () => stream.destroy(new Error("interrupted"))
    signal.addEventListener("abort", onAbort, { once: true })
    if (options.onSessionUri) stream.on("uri", options.onSessionUri)
    stream.on("error", finish)
    stream.on("finish", () => finish())
    let offset = 0
    const pump = () => {
      while (offset < data.byteLength) {
        const end = Math.min(offset + SLICE, data.byteLength)
        const slice = data.subarray(offset, end)
        offset = end
        if (offset === data.byteLength) {
          stream.end(slice)
          return
        }
        if (!stream.write(slice)) {
          stream.once("drain", pump)
          return
        }
      }
      stream.end()
    }
    pump()
  })
