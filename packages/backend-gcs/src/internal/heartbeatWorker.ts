/**
 * The worker thread that renews GCS leases (see `heartbeatThread.ts`): it
 * runs while the main thread is blocked by a long synchronous body, which
 * could not renew a lease itself. Each lease it holds is rewritten every
 * heartbeat with `ifGenerationMatch` of the generation it wrote last; a 412
 * means the lease was taken over, and renewing it stops.
 */
import { parentPort, workerData } from "node:worker_threads"
import { Storage } from "@google-cloud/storage"

export interface Init {
  readonly bucket: string
  readonly apiEndpoint: string | undefined
  readonly projectId: string | undefined
  readonly keyFilename: string | undefined
  readonly heartbeatMs: number
  readonly expiryMs: number
}

export type Request =
  | {
    readonly type: "hold"
    readonly id: number
    readonly name: string
    readonly generation: number
    readonly metadata: Readonly<Record<string, string>>
  }
  | { readonly type: "stop"; readonly id: number }

export type Reply =
  | { readonly type: "stopped"; readonly id: number; readonly generation: number }
  | { readonly type: "renewed"; readonly id: number; readonly generation: number }
  | { readonly type: "lost"; readonly id: number }

const init = workerData as Init
const storage = new Storage({
  ...(init.apiEndpoint === undefined ? {} : { apiEndpoint: init.apiEndpoint }),
  ...(init.projectId === undefined ? {} : { projectId: init.projectId }),
  ...(init.keyFilename === undefined ? {} : { keyFilename: init.keyFilename }),
  retryOptions: { autoRetry: false, retryableErrorFn: () => false }
})
const bucket = storage.bucket(init.bucket)

interface Held {
  generation: number
  stopped: boolean
  /** The renewal in flight, if any: a stop waits for it, so the generation it answers is the last. */
  inFlight: Promise<void>
  readonly timer: ReturnType<typeof setInterval>
}
const held = new Map<number, Held>()

const statusOf = (error: any): number | undefined => {
  const code = error?.code ?? error?.response?.status
  return typeof code === "number" ? code : undefined
}

const renew = (id: number, name: string, metadata: Readonly<Record<string, string>>) => {
  const lease = held.get(id)
  if (lease === undefined || lease.stopped) return
  lease.inFlight = lease.inFlight.then(async () => {
    if (lease.stopped) return
    const expiresAt = Date.now() + init.expiryMs
    const custom = { ...metadata, expiresAt: String(expiresAt) }
    const file = bucket.file(name)
    try {
      await file.save(`${JSON.stringify({ ...custom, expiresAt })}\n`, {
        resumable: false,
        contentType: "application/json",
        metadata: { metadata: custom },
        preconditionOpts: { ifGenerationMatch: lease.generation }
      })
      lease.generation = Number(file.metadata.generation)
      parentPort!.postMessage({ type: "renewed", id, generation: lease.generation } satisfies Reply)
    } catch (error) {
      if (statusOf(error) === 412) {
        lease.stopped = true
        clearInterval(lease.timer)
        parentPort!.postMessage({ type: "lost", id } satisfies Reply)
      }
      // Anything else (a dropped connection, a 503): the next beat tries again.
    }
  })
}

parentPort!.on("message", (request: Request) => {
  if (request.type === "hold") {
    const timer = setInterval(() => renew(request.id, request.name, request.metadata), init.heartbeatMs)
    held.set(request.id, { generation: request.generation, stopped: false, inFlight: Promise.resolve(), timer })
    return
  }
  const lease = held.get(request.id)
  if (lease === undefined) return
  lease.stopped = true
  clearInterval(lease.timer)
  void lease.inFlight.then(() => {
    held.delete(request.id)
    parentPort!.postMessage({ type: "stopped", id: request.id, generation: lease.generation } satisfies Reply)
  })
})
