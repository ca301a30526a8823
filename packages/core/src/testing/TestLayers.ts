/**
 * Layers for testing pipelines: an in-memory cache and a fixed seed.
 *
 * ```ts
 * import { it } from "@effect/vitest"
 * import { TestLayers } from "@expops/core/testing"
 *
 * it.effect("prepare splits 80/20", () =>
 *   Effect.gen(function*() {
 *     const report = yield* Pipeline.run(pipeline)
 *     ...
 *   }).pipe(Effect.provide(TestLayers.layer({ seed: 42 }))))
 * ```
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import * as Cache from "../Cache.ts"
import type { CacheStore } from "../CacheStore.ts"
import * as Reproducibility from "../Reproducibility.ts"

/**
 * A fresh in-memory cache and store, and the given root seed (default 42).
 *
 * @since 0.1.0
 */
export const layer = (options?: {
  readonly seed?: number | undefined
  readonly mode?: Cache.Mode | undefined
}): Layer.Layer<Cache.Cache | CacheStore> =>
  Layer.merge(Cache.layerMemory({ mode: options?.mode }), Reproducibility.layer(options?.seed ?? 42))
