/**
 * Where the entries of one key live when its computations used different
 * dependencies (one per trace).
 *
 * The first entry computed for a key is stored under the key itself. When
 * its trace no longer holds (a file it read changed, or it drew random
 * numbers and this call has another seed), the next place to look is a key
 * derived from the key and the values that entry's dependencies have now:
 * its variant for them. Each variant's trace leads on in the same way. So a
 * lookup follows one chain, deterministically, and the common case (the
 * first entry holds) is one manifest read; a computation that misses is
 * stored at the first free place of its chain, which is where the next
 * lookup with the same dependencies will look.
 */
import { hash } from "node:crypto"

/** How many variants deep a lookup goes before it computes without storing. */
export const MAX_DEPTH = 32

/** The key of the variant of `key` for dependency values `variant` (see `Trace.check`). */
export const next = (key: string, variant: string): string => hash("sha256", `expops-variant\0${key}\0${variant}`, "hex")
