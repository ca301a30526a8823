/**
 * The `RunStore` port on a bucket: one JSON object per run,
 * `gs://BUCKET/PREFIX/PROJECT/runs/<runId>.json`. Each object carries the
 * run's summary in its custom metadata, so `expops runs ls` costs listing
 * requests only, not one download per run.
 *
 * @since 0.1.0
 */
import { RunReport, RunStore } from "@expops/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { GcsClient, type Shape as Client } from "./GcsClient.ts"
import type { GcsRequestError } from "./GcsError.ts"

const SAFE_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/
const SUMMARY = "expops-summary"

const toStoreError = (error: GcsRequestError) =>
  new RunStore.RunStoreError({
    backend: "gcs",
    operation: error.operation,
    location: `gs://${error.bucket}/${error.object}`,
    reason: error.reason,
    cause: error
  })

const decodeReport = Schema.decodeUnknownEffect(Schema.fromJsonString(RunReport.RunReport))

const parseSummary = (text: string | undefined): RunStore.RunSummary | undefined => {
  if (text === undefined) return undefined
  try {
    const s = JSON.parse(text)
    return typeof s?.id === "string" && typeof s?.startedAt === "number" ? s : undefined
  } catch {
    return undefined
  }
}

/**
 * @since 0.1.0
 */
export const make = (client: Client): RunStore.Shape => {
  const folder = client.path("runs") + "/"
  const location = (id: string) => `gs://${client.bucketName}/${folder}${id}.json`
  const invalid = (operation: string, id: string) =>
    new RunStore.RunStoreError({ backend: "gcs", operation, location: `gs://${client.bucketName}/${folder}`, reason: `${JSON.stringify(id)} is not a valid run id` })

  const getRun: RunStore.Shape["getRun"] = Effect.fnUntraced(function*(id) {
    if (!SAFE_ID.test(id)) return yield* invalid("read run", id)
    const bytes = yield* Effect.mapError(client.read("read run", `${folder}${id}.json`), toStoreError)
    if (Option.isNone(bytes)) return Option.none()
    const report = yield* decodeReport(new TextDecoder().decode(bytes.value)).pipe(
      Effect.mapError((error) =>
        new RunStore.RunStoreError({
          backend: "gcs",
          operation: "read run",
          location: location(id),
          reason: `not a run report: ${error.message}`,
          cause: error
        })
      )
    )
    return Option.some(report)
  })

  return {
    saveRun: (report) =>
      !SAFE_ID.test(report.run.id)
        ? Effect.fail(invalid("save run", report.run.id))
        : Effect.mapError(
          Effect.asVoid(client.write("save run", `${folder}${report.run.id}.json`, new TextEncoder().encode(JSON.stringify(report)), {
            contentType: "application/json",
            metadata: { [SUMMARY]: JSON.stringify(RunStore.summarize(report)) }
          })),
          toStoreError
        ),
    listRuns: Effect.fnUntraced(function*(options) {
      const objects = yield* Effect.mapError(client.list("list runs", folder), toStoreError)
      const summaries = yield* Effect.forEach(objects.filter((o) => o.name.endsWith(".json")), (o) => {
        const summary = parseSummary(o.metadata[SUMMARY])
        if (summary !== undefined) return Effect.succeed(Option.some(summary))
        // Written by something else: read the report itself.
        const id = o.name.slice(folder.length, -".json".length)
        return Effect.map(getRun(id), Option.map(RunStore.summarize))
      }, { concurrency: 8 })
      return summaries
        .flatMap((s) => (Option.isSome(s) ? [s.value] : []))
        .sort((a, b) => b.startedAt - a.startedAt)
        .slice(0, options?.limit ?? Infinity)
    }),
    getRun
  }
}

/**
 * The run store over the `GcsClient` in context.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<RunStore.RunStore, never, GcsClient> = Layer.effect(RunStore.RunStore, GcsClient.useSync(make))
