/**
 * Effect's OTLP span exporter over `fetch`, built in the caller's scope:
 * loaded by `Tracing` only when an endpoint is configured.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as Tracer from "effect/Tracer"
import type { Endpoint } from "../Tracing.ts"

/**
 * A tracer exporting to `endpoint`. Closing the scope sends what is buffered
 * (waiting at most `shutdownTimeout` for a collector that does not answer).
 */
export const tracer = Effect.fnUntraced(function*(endpoint: Endpoint, version: string) {
  const layer = OtlpTracer.layer({
    url: endpoint.url,
    resource: { serviceName: endpoint.serviceName, serviceVersion: version },
    headers: endpoint.headers,
    // A run's spans go out as it goes, in batches, and the rest when it ends.
    exportInterval: "2 seconds",
    shutdownTimeout: "5 seconds"
  }).pipe(
    Layer.provide(endpoint.protocol === "http/json" ? OtlpSerialization.layerJson : OtlpSerialization.layerProtobuf),
    Layer.provide(FetchHttpClient.layer)
  )
  const context = yield* Layer.build(layer)
  return Context.get(context, Tracer.Tracer)
})
