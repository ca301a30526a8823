/**
 * One EventSource on /api/events for the whole page. Listeners get every
 * change; `ready` fires once the server has subscribed this page (and again
 * after a reconnect), when a page (re)reads its snapshot: changes after the
 * snapshot's `seq` then arrive as events, none are lost.
 */
import { useEffect } from "preact/hooks"
import type { Change } from "./api.ts"

type Listener = { readonly change: (change: Change) => void; readonly ready: () => void }

const listeners = new Set<Listener>()
let source: EventSource | undefined
let isReady = false

const connect = () => {
  if (source !== undefined) return
  source = new EventSource("/api/events")
  source.addEventListener("ready", () => {
    isReady = true
    for (const l of listeners) l.ready()
  })
  source.addEventListener("message", (message) => {
    const change = JSON.parse((message as MessageEvent<string>).data) as Change
    for (const l of listeners) l.change(change)
  })
  source.addEventListener("error", () => {
    isReady = false
  })
}

/** Calls `change` for every change of the run store and `ready` when (re)subscribed; until unmounted. */
export const useChanges = (change: (change: Change) => void, ready: () => void, deps: ReadonlyArray<unknown>) => {
  useEffect(() => {
    const listener = { change, ready }
    listeners.add(listener)
    connect()
    if (isReady) ready()
    return () => void listeners.delete(listener)
  }, deps)
}
