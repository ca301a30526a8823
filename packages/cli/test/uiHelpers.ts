/**
 * Helpers for the tests of `expops ui`: the command served in this process
 * (as `cli` runs commands), and plain HTTP requests with any headers (a
 * foreign `Host` included, which fetch would not send).
 */
import * as http from "node:http"
import { Cli } from "@expops/cli"
import { Effect, Fiber } from "effect"
import { layerCapture } from "./helpers.ts"

export interface Served {
  readonly url: string
  readonly port: number
  /** Stops the server (interrupts the command). */
  readonly stop: () => Promise<void>
  readonly output: { readonly stdout: Array<string>; readonly stderr: Array<string> }
}

/** `expops ui DIR --port 0` in this process; resolves once it printed its URL. */
export const serveUi = async (dir: string, ...args: Array<string>): Promise<Served> => {
  const output = { stdout: [] as Array<string>, stderr: [] as Array<string> }
  const fiber = Effect.runFork(Cli.run(["ui", dir, "--port", "0", ...args]).pipe(Effect.provide(layerCapture(output))))
  const deadline = Date.now() + 30_000
  for (;;) {
    const match = /http:\/\/127\.0\.0\.1:(\d+)\//.exec(output.stdout.join(""))
    if (match !== null) {
      return { url: match[0], port: Number(match[1]), output, stop: () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined) }
    }
    if (fiber.pollUnsafe() !== undefined || Date.now() > deadline) {
      throw new Error(`expops ui did not print its URL:\n${output.stdout.join("")}\n${output.stderr.join("")}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export interface Response {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
  readonly json: any
}

/** One request to the server at `port`, with the headers given (Host included). */
export const request = (port: number, path: string, options?: { readonly method?: string; readonly headers?: Record<string, string> }): Promise<Response> =>
  new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: options?.method ?? "GET", headers: options?.headers, timeout: 10_000 }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => (body += chunk))
      res.on("end", () => {
        let json: unknown
        try {
          json = JSON.parse(body)
        } catch {
          json = undefined
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json })
      })
    })
    req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)))
    req.on("error", reject)
    req.end()
  })

/**
 * Reads `/api/events` until `until` says the messages so far are enough,
 * and `settleMs` more (to see what else comes: nothing should); fails after
 * `timeoutMs`. Answers the messages' data, parsed.
 */
export const readEvents = (
  port: number,
  onReady: () => void,
  until: (messages: ReadonlyArray<any>) => boolean,
  options?: { readonly settleMs?: number; readonly timeoutMs?: number }
): Promise<Array<any>> =>
  new Promise((resolve, reject) => {
    const messages: Array<any> = []
    let settling = false
    const timeoutMs = options?.timeoutMs ?? 60_000
    const req = http.get({ host: "127.0.0.1", port, path: "/api/events" }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`/api/events answered ${res.statusCode}`))
      let buffer = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (/^event: ready$/m.test(block)) onReady()
          const data = /^data: (.*)$/m.exec(block)
          if (data !== null && !/^event: /m.test(block)) messages.push(JSON.parse(data[1]!))
        }
        if (!settling && until(messages)) {
          settling = true
          clearTimeout(timer)
          setTimeout(() => {
            req.destroy()
            resolve(messages)
          }, options?.settleMs ?? 0)
        }
      })
    })
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`/api/events: not enough in ${timeoutMs} ms; got ${JSON.stringify(messages).slice(0, 500)}`))
    }, timeoutMs)
    req.on("error", (error) => (settling ? undefined : reject(error)))
  })
