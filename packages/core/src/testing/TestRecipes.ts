/**
 * Placeholder recipes for tests and benchmarks that store entries through the
 * `Cache` or a `CacheStore` directly, without a step or process to make one.
 *
 * @since 0.1.0
 */
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
