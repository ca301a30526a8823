/**
 * The run store's changes as they happen, for every open event stream: one
 * fiber follows the store (`RunStore.live.changes`, every `POLL_EVERY`) and
 * publishes what is new; each `/api/events` client subscribes. The store is
 * written by `expops run` in another OS process, so following it is polling
 * a cheap indexed query, not a notification.
 */
import type { RunStore } from "@expops/core"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

const POLL_EVERY = "200 millis"
/** Keeps idle connections (and proxies) from timing out, and lets a closed client be noticed. */
const HEARTBEAT_EVERY = "15 seconds"

/** Starts following `store` for as long as the scope lives; answers the stream of one client. */
export const follow = Effect.fnUntraced(function*(store: RunStore.Shape) {
  const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<RunStore.Change>(), PubSub.shutdown)
  const live = store.live
  if (live !== undefined) {
    let cursor = yield* live.cursor
    let warned = false
    // Suspended: each tick reads from the cursor as it is then.
    const poll = Effect.suspend(() => live.changes(cursor)).pipe(
      Effect.flatMap((changes) => {
        if (changes.length === 0) return Effect.void
        cursor = changes[changes.length - 1]!.seq
        return PubSub.publishAll(pubsub, changes)
      }),
      // A busy or briefly unreadable file: try again at the next tick, say so once.
      Effect.catch((error) =>
        Effect.suspend(() => {
          if (warned) return Effect.void
          warned = true
          return Effect.logWarning(`web UI: cannot follow the run store: ${error.message}`)
        })
      )
    )
    yield* Effect.forkScoped(Effect.repeat(poll, Schedule.spaced(POLL_EVERY)))
  }
  /**
   * Server-sent events: first a `ready` comment (sent once the client is
   * subscribed, so a snapshot read after it misses nothing), then one message
   * per change with its `seq` as the event id.
   */
  const events: Stream.Stream<Uint8Array> = Stream.unwrap(
    Effect.map(PubSub.subscribe(pubsub), (subscription) =>
      Stream.concat(
        Stream.succeed("retry: 1000\nevent: ready\ndata: {}\n\n"),
        Stream.merge(
          Stream.map(Stream.fromSubscription(subscription), (change) => `id: ${change.seq}\ndata: ${JSON.stringify(change)}\n\n`),
          Stream.map(Stream.tick(HEARTBEAT_EVERY), () => ": ping\n\n")
        )
      ))
  ).pipe(Stream.encodeText)
  return { events, live: live !== undefined }
})
