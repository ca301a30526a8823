/**
 * The `CacheStore` port on a Cloud Storage bucket, shared by every machine
 * that points at it:
 *
 * ```
 * gs://BUCKET/PREFIX/PROJECT/cache/manifests/<key>
 * gs://BUCKET/PREFIX/PROJECT/cache/blobs/<sha256>
 * gs://BUCKET/PREFIX/PROJECT/cache/quarantine/{manifests,blobs}/<name>.<time>
 * ```
 *
 * Manifests are written with `ifGenerationMatch: 0`: the first writer wins,
 * and a 412 answers `false` (another machine stored the entry). Blobs are
 * written the same way, so an existing blob is never uploaded over. `Cache`
 * writes blobs before their manifest, so a manifest never points at a blob
 * that was not stored; one deleted later is found missing on read, and the
 * entry is a miss.
 *
 * @since 0.1.0
 */
import { CacheStore, Manifest } from "@expops/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Shape as Client } from "./GcsClient.ts"
import type { GcsRequestError } from "./GcsError.ts"

// Keys and digests become object names: refuse anything that could leave its folder.
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/
// Above this size a blob upload first asks whether the blob is there already.
const LARGE = 1024 * 1024

const toStoreError = (error: GcsRequestError) =>
  new CacheStore.CacheStoreError({
    backend: "gcs",
    operation: error.operation,
    location: `gs://${error.bucket}/${error.object}`,
    reason: error.status === 401 || error.status === 403
      ? `${error.reason} (using ${error.credentials})`
      : error.reason,
    cause: error
  })

/**
 * The store over a client.
 *
 * @since 0.1.0
 */
export const make = (client: Client): CacheStore.Shape => {
  const manifests = client.path("cache", "manifests") + "/"
  const blobs = client.path("cache", "blobs") + "/"
  const quarantine = client.path("cache", "quarantine") + "/"

  const quarantined = Effect.fnUntraced(function*(folder: string, name: string, reason: string, operation: string) {
    const now = yield* Clock.currentTimeMillis
    const from = (folder === "manifests" ? manifests : blobs) + name
    const moved = yield* client.move(operation, from, `${quarantine}${folder}/${name}.${now}`, { reason: reason.slice(0, 1024) })
    if (moved) yield* Effect.logWarning(`moved gs://${client.bucketName}/${from} to quarantine: ${reason}`)
  })

  // Every failure leaves as the port's error, naming the object and the operation.
  const run = <A>(what: "key" | "digest", name: string, operation: string, f: () => Effect.Effect<A, GcsRequestError>) =>
    SAFE_NAME.test(name)
      ? Effect.mapError(f(), toStoreError)
      : Effect.fail(
        new CacheStore.CacheStoreError({
          backend: "gcs",
          operation,
          location: `gs://${client.bucketName}/${client.root}`,
          reason: `${JSON.stringify(name)} is not a valid ${what}`
        })
      )

  const readManifest: CacheStore.Shape["getManifest"] = (key) =>
    Effect.flatMap(
      run("key", key, "read manifest", () => client.read("read manifest", manifests + key)),
      (bytes) => Manifest.decode(Option.getOrUndefined(bytes), key)
    )

  return {
    backend: "gcs",
    getManifest: readManifest,
    // The bucket keeps no last-use times: a peek is a read.
    peekManifest: readManifest,
    putManifest: (manifest) =>
      run("key", manifest.key, "write manifest", () =>
        Effect.map(
          client.write("write manifest", manifests + manifest.key, Manifest.encode(manifest), {
            ifGenerationMatch: 0,
            contentType: "application/vnd.expops.manifest"
          }),
          (result) => result === "written"
        )),
    deleteManifest: (key) => run("key", key, "delete manifest", () => client.remove("delete manifest", manifests + key)),
    quarantineManifest: (key, reason) =>
      run("key", key, "quarantine manifest", () => quarantined("manifests", key, reason, "quarantine manifest")),
    listManifests: Effect.mapError(
      Effect.map(client.list("list manifests", manifests), (objects) =>
        objects.map((o) => ({ key: o.name.slice(manifests.length), size: o.size })).filter((m) => SAFE_NAME.test(m.key))),
      toStoreError
    ),
    getBlob: (digest) => run("digest", digest, "read blob", () => client.read("read blob", blobs + digest)),
    // A blob is named by its content: if it exists, it holds these bytes already.
    putBlob: (digest, bytes) =>
      run("digest", digest, "write blob", Effect.fnUntraced(function*() {
        // Large blobs: one metadata request may save a long upload.
        if (bytes.byteLength > LARGE && (yield* client.exists("write blob", blobs + digest))) return
        yield* client.write("write blob", blobs + digest, bytes, { ifGenerationMatch: 0 })
      })),
    deleteBlob: (digest) => run("digest", digest, "delete blob", () => client.remove("delete blob", blobs + digest)),
    quarantineBlob: (digest, reason) => run("digest", digest, "quarantine blob", () => quarantined("blobs", digest, reason, "quarantine blob")),
    listBlobs: Effect.mapError(
      Effect.map(client.list("list blobs", blobs), (objects) =>
        objects.map((o) => ({ digest: o.name.slice(blobs.length), size: o.size })).filter((b) => SAFE_NAME.test(b.digest))),
      toStoreError
    )
  }
}
