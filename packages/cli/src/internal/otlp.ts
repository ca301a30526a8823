/**
 * Effect's OTLP span exporter over `fetch`, built in the caller's scope:
 * loaded by `Tracing` only when an endpoint is configured.
 */
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as Tracer from "effect/Tracer"
import type { Endpoint } from "../Tracing.ts"

/**
 * A tracer exporting to `endpoint`. Closing the scope sends what is buffered
 * (waiting at most 3 s for a collector that does not answer), then warns
 * when the collector could not be reached or refused the spans: the
 * exporter itself only logs that at debug level, and the run must not fail
 * for it.
 */
export const tracer = Effect.fnUntraced(function*(endpoint: Endpoint, version: string) {
  /** What the last export request came to: undefined once one succeeded. */
  let problem: string | undefined
  yield* Effect.addFinalizer(() =>
    Effect.suspend(() =>
      problem === undefined ? Effect.void : Console.error(`warning: the run's spans were not all exported to ${endpoint.url}: ${problem}`)
    )
  )
  const client = Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) =>
      client.pipe(
        HttpClient.tap((response) =>
          Effect.sync(() => {
            problem = response.status >= 200 && response.status < 300 ? undefined : `the collector answered HTTP ${response.status}`
          })
        ),
        HttpClient.tapError((error) => Effect.sync(() => void (problem = error.message)))
      ))
  ).pipe(Layer.provide(FetchHttpClient.layer))
  const layer = OtlpTracer.layer({
    url: endpoint.url,
    resource: { serviceName: endpoint.serviceName, serviceVersion: version },
    headers: endpoint.headers,
    // A run's spans go out as it goes, in batches, and the rest when it ends.
    exportInterval: "2 seconds",
    shutdownTimeout: "3 seconds"
  }).pipe(
    Layer.provide(endpoint.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf),
    Layer.provide(client)
  )
  // Built after the finalizer above was added, so closed (and flushed) before it runs.
  const context = yield* Layer.build(layer)
  return Context.get(context, Tracer.Tracer)
})
