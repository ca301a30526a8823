/**
 * Deterministic seeds. The project's `reproducibility.seed` is the root seed;
 * every process and step gets its own seed derived from the root and its
 * identity — for a process, pipeline and name; for a step call, its caller's
 * identity, the step's name, the digests of its input and config, and which
 * of the identical calls in that caller it is — and runs with Effect's
 * `Random` service seeded with it. Adding a step, or running processes in
 * another order or with more concurrency, leaves every other stream
 * unchanged, and what is cached never shifts a seed.
 *
 * User code gets the same determinism by drawing from `Random` (`Random.next`,
 * `Random.nextIntBetween`, `Random.shuffle`, ...), never from `Math.random`.
 *
 * @since 0.1.0
 */
import { hash } from "node:crypto"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

/**
 * The root seed. Defaults to 0 when no layer sets it.
 *
 * @since 0.1.0
 */
export const RootSeed: Context.Reference<number> = Context.Reference<number>("expops/RootSeed", {
  defaultValue: () => 0
})

/**
 * Sets the root seed.
 *
 * @since 0.1.0
 */
export const layer = (seed: number): Layer.Layer<never> => Layer.succeed(RootSeed, seed)

/**
 * Derives a seed from the root seed and an identity path. The result is a
 * non-negative safe integer (48 bits of SHA-256), the same on every machine.
 *
 * @since 0.1.0
 */
export const derive = (root: number, identity: ReadonlyArray<string | number>): number => {
  // Joined at once: a flat string hashes faster than the rope `+=` builds.
  const texts = [`expops-seed\0${root}`]
  for (const part of identity) texts.push(`${typeof part}:${part}`)
  const text = texts.join("\0")
  // The first 6 bytes, big-endian: the first 12 hex digits (a hex digest is cheaper to get than a Buffer).
  return parseInt(hash("sha256", text, "hex").slice(0, 12), 16)
}
