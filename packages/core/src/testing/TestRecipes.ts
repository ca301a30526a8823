/**
 * Placeholder recipes (and manifests) for tests and benchmarks that store
 * entries through the `Cache` or a `CacheStore` directly, without a step or
 * process to make one.
 *
 * @since 0.1.0
 */
import * as Manifest from "../Manifest.ts"
import * as Recipe from "../Recipe.ts"

/**
 * A recipe with the given kind and name and fixed dummy digests. Entries
 * stored under it are told apart by their key, not their recipe.
 *
 * @since 0.1.0
 */
export const placeholder = (name: string, kind: Recipe.Kind = "step"): Recipe.Recipe => ({
  kind,
  name,
  format: Recipe.CACHE_FORMAT_VERSION,
  code: "c",
  input: "i",
  inputParts: {},
  config: "k",
  configValue: null,
  schemas: { input: "a", output: "b", config: "c" },
  seed: 1
})

/**
 * A manifest for `key` with a placeholder recipe and an empty output, for
 * tests of stores (fields can be overridden).
 *
 * @since 0.1.0
 */
export const manifest = (key: string, fields?: Partial<Omit<Manifest.Manifest, "key" | "size">>): Manifest.Manifest =>
  Manifest.make({ key, recipe: placeholder("entry"), output: null, blobs: [], createdAt: 0, durationMs: 0, ...fields })
