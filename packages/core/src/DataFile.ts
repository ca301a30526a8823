/**
 * The digest of the project's data file (`data.path`), part of every process
 * key: editing the data invalidates the processes.
 *
 * @since 0.1.0
 */
import { closeSync, openSync, type Stats, statSync } from "node:fs"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Digests from "./internal/trace/digests.ts"

/**
 * @since 0.1.0
 */
export class DataFileError extends Schema.TaggedError<DataFileError>()("DataFileError", {
  path: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `data file ${this.path}: ${this.reason}`
  }
}

/**
 * SHA-256 of a file's bytes: small files in one read, large ones streamed so
 * a large file is never held in memory. Remembered by the file's signature
 * (size, mtime, ctime, inode) with the traced files' digests, so an
 * unchanged file is hashed once per process, or once per project with
 * `Trace.restoreDigests` / `Trace.keepDigests`.
 *
 * @since 0.1.0
 */
export const digest = (path: string): Effect.Effect<string, DataFileError> =>
  Effect.suspend(() => {
    const signature = Digests.signature(path)
    if (signature === undefined) return Effect.fail(missing(path))
    return Effect.flatMap(Digests.digest(path, signature), (digest) =>
      // Gone or unreadable between the stat and the read.
      digest === Digests.ABSENT ? Effect.fail(missing(path)) : Effect.succeed(digest))
  })

const missing = (path: string): DataFileError => {
  let stat: Stats | undefined
  try {
    stat = statSync(path, { throwIfNoEntry: false })
  } catch (cause) {
    return new DataFileError({ path, reason: (cause as Error).message, cause })
  }
  if (stat === undefined) return new DataFileError({ path, reason: "no such file" })
  if (!stat.isFile()) return new DataFileError({ path, reason: "not a file" })
  try {
    // Exists and is a file, yet could not be read: say why (permissions, ...).
    closeSync(openSync(path, "r"))
  } catch (cause) {
    return new DataFileError({ path, reason: (cause as Error).message, cause })
  }
  return new DataFileError({ path, reason: "changed while it was read" })
}
