/**
 * Renews GCS leases from a worker thread (`heartbeatWorker.ts`), so that a
 * body blocking the main thread (a synchronous training loop) does not stop
 * its lease's heartbeat and have another machine take the key over. The
 * worker starts with the first lease held and does not keep the process
 * alive.
 */
import { Worker } from "node:worker_threads"
import type { Init, Reply, Request } from "./heartbeatWorker.ts"

export interface Holding {
  /** The lease was taken over (a renewal got 412). */
  readonly lost: () => boolean
  /** Stops renewing; answers the generation written last, for the conditional delete. */
  readonly stop: () => Promise<number>
}

export interface HeartbeatThread {
  readonly hold: (name: string, generation: number, metadata: Readonly<Record<string, string>>) => Holding
}

// Sources run as .ts (tests, `--conditions=@expops/source`); the package ships .js.
const workerFile = new URL(import.meta.url.endsWith(".ts") ? "./heartbeatWorker.ts" : "./heartbeatWorker.js", import.meta.url)

export const make = (init: Init, onError: (error: unknown) => void): HeartbeatThread => {
  let worker: Worker | undefined
  let nextId = 0
  const lost = new Set<number>()
  const stopping = new Map<number, (generation: number) => void>()
  const generations = new Map<number, number>()

  const start = (): Worker => {
    const made = new Worker(workerFile, { workerData: init })
    made.unref()
    made.on("message", (reply: Reply) => {
      if (reply.type === "lost") lost.add(reply.id)
      else if (reply.type === "renewed") generations.set(reply.id, reply.generation)
      else {
        const resolve = stopping.get(reply.id)
        stopping.delete(reply.id)
        // Nothing more to wait for: the worker no longer keeps the process alive.
        if (stopping.size === 0) made.unref()
        resolve?.(reply.generation)
      }
    })
    made.on("error", (error) => {
      worker = undefined
      onError(error)
      // Whoever waits to stop a lease goes on with the generation it knows.
      for (const [id, resolve] of stopping) resolve(generations.get(id) ?? -1)
      stopping.clear()
    })
    return made
  }

  return {
    hold: (name, generation, metadata) => {
      const id = ++nextId
      worker ??= start()
      const running = worker
      generations.set(id, generation)
      running.postMessage({ type: "hold", id, name, generation, metadata } satisfies Request)
      return {
        lost: () => lost.has(id),
        stop: () =>
          new Promise<number>((resolve) => {
            if (worker !== running) return resolve(generations.get(id) ?? generation)
            stopping.set(id, (last) => {
              lost.delete(id)
              generations.delete(id)
              resolve(last === -1 ? generation : last)
            })
            // While a stop is answered the process must not exit (the main thread may have nothing else to do).
            running.ref()
            running.postMessage({ type: "stop", id } satisfies Request)
          })
      }
    }
  }
}
