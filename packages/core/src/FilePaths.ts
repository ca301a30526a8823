/**
 * The path a `node:fs` function was given, for code that watches what is
 * read (core's traces of bodies, the CLI's receipts of runs). No `effect`
 * import here.
 *
 * @since 0.1.0
 */
import { fileURLToPath } from "node:url"

/**
 * The path named by a `node:fs` argument: a string, a `file:` URL or a
 * `Buffer`; `undefined` for a file descriptor or another kind of URL.
 *
 * @since 0.1.0
 */
export const pathOf = (target: unknown): string | undefined =>
  typeof target === "string"
    ? target
    : target instanceof URL
    ? (target.protocol === "file:" ? fileURLToPath(target) : undefined)
    : Buffer.isBuffer(target)
    ? target.toString()
    : undefined
