/**
 * The digest of the project's data file (`data.path`), part of every process
 * key: editing the data invalidates the processes.
 *
 * @since 0.1.0
 */
import { createReadStream } from "node:fs"
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

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
 * SHA-256 of a file's bytes, streamed so a large file is never held in memory.
 *
 * @since 0.1.0
 */
export const digest = (path: string): Effect.Effect<string, DataFileError> =>
  Effect.callback<string, DataFileError>((resume) => {
    const hash = createHash("sha256")
    const stream = createReadStream(path)
    stream.on("data", (chunk) => hash.update(chunk))
    stream.on("error", (error: NodeJS.ErrnoException) =>
      resume(Effect.fail(new DataFileError({ path, reason: error.code === "ENOENT" ? "no such file" : error.message, cause: error }))))
    stream.on("end", () => resume(Effect.succeed(hash.digest("hex"))))
    return Effect.sync(() => stream.destroy())
  })
