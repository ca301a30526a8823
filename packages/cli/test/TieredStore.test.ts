/**
 * The store the CLI builds for `backend: gcs`: backend-local's store (with
 * its SQLite index) as the local tier in front of the bucket. The other
 * tiered combinations run the conformance suite in backend-gcs, which does
 * not depend on backend-local; this one is the CLI's to check.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { CacheStore } from "@expops/core"
import { CacheStoreConformance } from "@expops/core/testing"
import { GcsCacheStore, GcsClient, TieredCacheStore } from "@expops/backend-gcs"
import { FakeGcsServer } from "@expops/backend-gcs/testing"
import { LocalBackend, type LocalCacheStore } from "@expops/backend-local"
import { Context, Effect, Layer } from "effect"
import { tempDir } from "./helpers.ts"

const BUCKET = "team-cache"

type WithTiers = CacheStore.Shape & { readonly local: LocalCacheStore.Shape; readonly fake: FakeGcsServer.FakeGcsServer }

const flipped = (bytes: Uint8Array, at: number): Uint8Array => {
  const copy = Buffer.from(bytes)
  copy[at]! ^= 1
  return copy
}

/** Flips a byte of the manifest of `key` in both tiers, behind the store's back. */
const corruptManifest = (key: string) =>
  Effect.gen(function*() {
    const { fake, local } = (yield* CacheStore.CacheStore) as WithTiers
    const file = Path.join(local.directory, "manifests", key.slice(0, 2), key)
    if (Fs.existsSync(file)) Fs.writeFileSync(file, flipped(Fs.readFileSync(file), 80))
    const name = `expops/demo/cache/manifests/${key}`
    const object = fake.objects(BUCKET).get(name)
    if (object !== undefined) fake.putObject(BUCKET, name, flipped(object.data, 80))
  })

CacheStoreConformance.suite("tiered: backend-local in front of gcs, as the CLI composes them", () =>
  Layer.effect(
    CacheStore.CacheStore,
    Effect.gen(function*() {
      const fake = yield* FakeGcsServer.make({ buckets: [BUCKET] })
      const local = Context.get(yield* Layer.build(LocalBackend.layer(tempDir())), CacheStore.CacheStore) as LocalCacheStore.Shape
      const remote = GcsCacheStore.make(GcsClient.make({
        bucket: BUCKET,
        prefix: "expops",
        projectName: "demo",
        apiEndpoint: fake.url,
        retry: { maxRetries: 5, baseDelayMs: 1, maxDelayMs: 4, totalTimeoutMs: 10_000 }
      }))
      return { ...TieredCacheStore.make(local, remote), local, fake } satisfies WithTiers
    })
  ), { corruptManifest })
