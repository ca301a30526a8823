/**
 * The `CacheStore` on the local file system, in `<project>/.expops/cache/`:
 *
 * ```
 * manifests/ab/abcdef…   one file per entry, named by its key (write-once)
 * packs/<id>.pack        many entries' manifests in one file (see below)
 * blobs/12/1234ab…       content-addressed by SHA-256
 * quarantine/            entries that failed verification, with a .reason file
 * ```
 *
 * Every file is written to a temp file in its final folder (a large blob
 * given without its digest, to `hashAndPutBlob`: in `blobs/`, as its shard
 * is not known yet), fsynced, then published: blobs by `rename` (same name,
 * same content: replacing is harmless), manifests by `link`, which fails when
 * the name exists, so of any number of racing writers in any number of
 * processes exactly one wins.
 * A reader therefore only ever sees complete files; a file that disappears
 * while being read (quarantined or pruned by another process) is a miss.
 *
 * Reads of small files are synchronous (a hit costs one open+read+close,
 * a few microseconds); files of 8 MiB and more are read and written
 * asynchronously in chunks, into or out of one buffer, never copied.
 *
 * When a store that wrote 1024 manifests or more closes (the end of a run),
 * it packs the manifest files into a pack (`internal/pack.ts`,
 * `internal/packs.ts`): a hit on a packed entry is one `pread` on a
 * descriptor kept open, about a fifth of what opening a file costs. Packed
 * or not, an entry reads, verifies, lists, deletes and quarantines the
 * same way.
 *
 * @since 0.1.0
 */
import { hash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { CacheStore, Manifest, Trace } from "@expops/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as CacheIndex from "./CacheIndex.ts"
import * as files from "./internal/files.ts"
import { PackReadError } from "./internal/pack.ts"
import * as Packs from "./internal/packs.ts"
import { projectPaths } from "./internal/paths.ts"
import { LocalBackendError } from "./LocalBackendError.ts"
import * as SqliteDatabase from "./SqliteDatabase.ts"

/**
 * @since 0.1.0
 */
export interface Options {
  /**
   * fsync files and folders before publishing them, so an entry survives a
   * power loss (default `true`). Without it an entry still never appears
   * half-written to other processes, but the last ones may be lost with
   * the machine.
   */
  readonly fsync?: boolean | undefined
  /** Replaces file-system calls; for tests that simulate a full or read-only disk. */
  readonly io?: Partial<files.Io> | undefined
  /**
   * Packs the manifest files when the store's layer closes, if it wrote at
   * least this many since it last packed (default 1024; 0: never). Not
   * fewer by default: a file each serves a few hundred entries about as
   * well, and packing removes files, which on some file systems makes
   * creating files slower for a while (see `packEvery`).
   */
  readonly packOnClose?: number | undefined
  /**
   * Packs them during a run too, each time the store has written this many
   * since it last packed (default: never; a long-lived process that writes
   * many entries may want it). Tests use 1 to read every entry from a pack.
   * Not during a run by default: on a file system that delays reusing the
   * inodes of removed files (ext4 without a journal), creating files is
   * slower for minutes after many were removed.
   */
  readonly packEvery?: number | undefined
}

/**
 * The port, plus what maintenance needs from the local layout.
 *
 * @since 0.1.0
 */
export interface Shape extends CacheStore.Shape {
  readonly hashAndPutBlob: NonNullable<CacheStore.Shape["hashAndPutBlob"]>
  readonly getBlobHashed: NonNullable<CacheStore.Shape["getBlobHashed"]>
  /** The cache folder. */
  readonly directory: string
  /** Deletes manifests, updating the index once for all of them. */
  readonly deleteManifests: (keys: ReadonlyArray<string>) => Effect.Effect<void, CacheStore.CacheStoreError>
  /** The keys of the manifests on disk, without reading them. */
  readonly manifestKeys: Effect.Effect<Set<string>, CacheStore.CacheStoreError>
  /** Blobs on disk with their modification time. */
  readonly blobFiles: Effect.Effect<ReadonlyArray<files.Listed>, CacheStore.CacheStoreError>
  /** Removes temp files left by killed writers, older than `olderThanMs`. Returns how many. */
  readonly removeTemps: (olderThanMs: number) => Effect.Effect<number, CacheStore.CacheStoreError>
  /** Empties the quarantine folder. Returns how many files it held. */
  readonly clearQuarantine: Effect.Effect<number, CacheStore.CacheStoreError>
  /** Reads the packs folder now: answers the files found damaged, which are moved to the quarantine. */
  readonly checkPacks: Effect.Effect<ReadonlyArray<{ readonly file: string; readonly reason: string }>, CacheStore.CacheStoreError>
  /** Packs the manifest files now (what the store does when it closes). */
  readonly pack: Effect.Effect<Packs.Packed, CacheStore.CacheStoreError>
  /** Packs the manifest files if this store wrote `packOnClose` or more, and closes the packs it holds open; the layers do it when they close. */
  readonly close: Effect.Effect<void>
}

/**
 * The local store itself, for maintenance code that needs more than the port.
 *
 * @since 0.1.0
 */
export class LocalCacheStore extends Context.Service<LocalCacheStore, Shape>()("expops/backend-local/LocalCacheStore") {}

/** Names are used as file names: nothing that could climb out of the folder. */
const VALID_NAME = /^[0-9A-Za-z_-][0-9A-Za-z._-]{2,254}$/

class InvalidNameError extends Schema.TaggedError<InvalidNameError>()("InvalidNameError", {
  /** The name given, which would become a file name. */
  value: Schema.String,
  /** `cache key`, `blob digest`. */
  what: Schema.String
}) {
  override get message(): string {
    return `${JSON.stringify(this.value)} is not a valid ${this.what}`
  }
}

/**
 * The file that holds the manifest of `key` in the store in `directory`
 * (`manifests/<first two characters>/<key>`) until it is packed; where it
 * is now, packed or not, is `manifestLocations`. `key` is not checked here.
 *
 * @since 0.1.0
 */
export const manifestFileOf = (directory: string, key: string): string => path.join(path.resolve(directory), "manifests", key.slice(0, 2), key)

/**
 * Where the store in `directory` keeps the manifests of `keys` now: a
 * record in a pack, or a file of its own (`offset` 0, its whole `length`),
 * with the size of the file holding it.
 * Keys stored nowhere are left out. For tools that check entries byte for
 * byte without opening the store; `keys` are not checked here.
 *
 * @since 0.1.0
 */
export const manifestLocations = (directory: string, keys: Iterable<string>): Map<string, Packs.Location> => {
  const wanted = [...keys]
  const found = Packs.locate(path.join(path.resolve(directory), "packs"), wanted)
  for (const key of wanted) {
    if (found.has(key)) continue
    const file = manifestFileOf(directory, key)
    const size = files.sizeIfExists(file)
    if (size !== undefined) found.set(key, { file, offset: 0, length: size, fileSize: size })
  }
  return found
}

/**
 * Opens the store in `directory` (created if needed) and checks that it can
 * be written. Reads and writes are recorded in `index` when one is given.
 *
 * @since 0.1.0
 */
export const make: (
  directory: string,
  index: CacheIndex.Shape | undefined,
  options?: Options
) => Effect.Effect<Shape, LocalBackendError> = Effect.fnUntraced(function*(directory, index, options) {
  const root = path.resolve(directory)
  // A step looked up inside a process body reads its entry here: never a dependency of that body.
  Trace.ignore(root)
  const io: files.Io = { ...files.nodeIo, ...options?.io }
  const sync = options?.fsync ?? true
  const manifestsDir = path.join(root, "manifests")
  const blobsDir = path.join(root, "blobs")
  const quarantineDir = path.join(root, "quarantine")
  const packsDir = path.join(root, "packs")
  const packEvery = options?.packEvery ?? 0
  const packOnClose = options?.packOnClose ?? 1024
  /** Manifests this store wrote since it last packed. */
  let unpacked = 0

  yield* Effect.try({
    try: () => {
      for (const dir of [manifestsDir, blobsDir, quarantineDir]) io.mkdirSync(dir, { recursive: true })
      // Creating folders may succeed on a folder we cannot write into (or
      // one that already existed): prove that a file can be written.
      files.removeQuietly(io, files.writeTemp(io, root, "probe", new Uint8Array(0), false))
    },
    catch: (cause) => new LocalBackendError({ operation: "open the cache folder", path: root, reason: files.describe(cause), cause })
  })

  const fail = (operation: string, location: string, cause: unknown) =>
    new CacheStore.CacheStoreError({
      backend: "local",
      operation,
      location,
      reason: cause instanceof InvalidNameError ? cause.message : files.describe(cause),
      cause
    })

  const fileOf = (folder: string, what: string, name: string): string => {
    if (!VALID_NAME.test(name)) throw new InvalidNameError({ value: name, what })
    // `folder` is already absolute and normal, and `name` has no separators: no need for path.join on the hit path.
    return `${folder}${path.sep}${name.slice(0, 2)}${path.sep}${name}`
  }
  const manifestFile = (key: string) => fileOf(manifestsDir, "cache key", key)
  const blobFile = (digest: string) => fileOf(blobsDir, "blob digest", digest)
  // For messages: where a name would be, even when it is not a valid one.
  const manifestPlace = (key: string) => manifestFileOf(root, key)
  const blobPlace = (digest: string) => path.join(blobsDir, digest.slice(0, 2), digest)

  /** Runs a synchronous file operation; whatever it throws becomes the port's error, naming the operation and the place. */
  const attempt = <A>(operation: string, location: string, body: () => A) =>
    Effect.try({ try: body, catch: (cause) => fail(operation, location, cause) })

  /** Runs `body` with the file's folder created if missing (first write to a shard, or after `clear`). */
  const inShard = <A>(file: string, body: (dir: string) => A): A => {
    const dir = path.dirname(file)
    try {
      return body(dir)
    } catch (error) {
      if (files.errnoOf(error) !== "ENOENT") throw error
      io.mkdirSync(dir, { recursive: true })
      return body(dir)
    }
  }

  // What a synchronous read found worth a warning (a file in the packs folder that is not a pack), logged by the next read.
  const warnings: Array<string> = []
  const logWarnings = Effect.suspend(() => Effect.forEach(warnings.splice(0), (warning) => Effect.logWarning(warning), { discard: true }))

  const packs = Packs.make({
    dir: packsDir,
    io,
    sync,
    isValid: (key, bytes) => {
      const decoded = Manifest.decode(bytes, key)
      return decoded._tag === "Success" && decoded.value._tag === "Some"
    },
    quarantine: (file, reason) => {
      moveAside("pack", file, path.basename(file), reason)
      warnings.push(`${file} is not a valid pack (${reason}); moved to the quarantine, its entries will be recomputed`)
    }
  })

  /** Runs maintenance that may fail without failing its caller: a failure is a warning. */
  const quietly = (what: string, body: () => unknown) =>
    Effect.suspend(() => {
      try {
        body()
        return Effect.void
      } catch (cause) {
        return Effect.logWarning(`could not ${what} in ${packsDir}: ${files.describe(cause)}`)
      }
    })

  const readManifest = (key: string, touch: boolean) =>
    Effect.suspend((): ReturnType<Shape["getManifest"]> => {
      let read: ReturnType<typeof Manifest.decode>
      try {
        // Decoded where it was read: the manifest's bytes are never copied.
        const packed = packs.read(key)
        if (packed !== undefined) read = Manifest.decode(packed, key)
        else {
          read = files.readSmallIfExists(manifestFile(key), (bytes) => Manifest.decode(bytes, key))
          if (read._tag === "Success" && read.value._tag === "None") {
            // Found nowhere: perhaps packed by another process since the packs were last read.
            const again = packs.readAfterRefresh(key)
            if (again !== undefined) read = Manifest.decode(again, key)
          }
        }
      } catch (cause) {
        // A pack that cannot be read is named as the place, with its own error as the cause.
        return Effect.fail(
          cause instanceof PackReadError ? fail("read manifest", cause.file, cause.cause) : fail("read manifest", manifestPlace(key), cause)
        )
      }
      // A file was there (valid or not): a use.
      if (touch && (read._tag === "Failure" || read.value._tag === "Some")) index?.touch(key)
      return warnings.length === 0 ? read : Effect.andThen(logWarnings, read)
    })

  const getManifest: Shape["getManifest"] = (key) => readManifest(key, true)
  const peekManifest: Shape["peekManifest"] = (key) => readManifest(key, false)

  const putManifest: Shape["putManifest"] = (manifest) =>
    attempt("write manifest", manifestPlace(manifest.key), () => {
      const file = manifestFile(manifest.key)
      if (packs.has(manifest.key) || files.sizeIfExists(file) !== undefined) return false
      const bytes = Manifest.encode(manifest)
      const won = inShard(file, (dir) => files.publishExclusive(io, files.writeTemp(io, dir, manifest.key, bytes, sync), file))
      if (won && sync) files.fsyncDir(io, path.dirname(file))
      return won
    }).pipe(
      Effect.tap((won) => (won && index !== undefined ? index.record(manifest) : Effect.void)),
      Effect.tap((won) => (won && wrote() ? packQuietly : Effect.void))
    )

  const quarantineName = (kind: string, name: string) =>
    path.join(quarantineDir, `${kind}-${name}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`)

  const moveAside = (kind: "manifest" | "blob" | "pack", file: string, name: string, reason: string) => {
    const target = quarantineName(kind, name)
    try {
      io.renameSync(file, target)
    } catch (error) {
      if (files.errnoOf(error) === "ENOENT") return // already moved aside or removed by another process
      throw error
    }
    try {
      fs.writeFileSync(`${target}.reason`, `${reason}\n`)
    } catch {
      // The reason is a courtesy; the entry is out of the way, which is what matters.
    }
  }

  /** Keeps `bytes` in the quarantine, as `moveAside` keeps a file: for a packed record, which cannot be moved. */
  const keepAside = (kind: "manifest", name: string, bytes: Uint8Array, reason: string) => {
    const target = quarantineName(kind, name)
    fs.writeFileSync(target, bytes)
    fs.writeFileSync(`${target}.reason`, `${reason}\n`)
  }

  const quarantineManifest: Shape["quarantineManifest"] = (key, reason) =>
    attempt("quarantine manifest", manifestPlace(key), () => {
      const file = manifestFile(key)
      const packed = packs.copyOf(key)
      if (packed !== undefined) keepAside("manifest", key, packed, reason)
      packs.kill([key])
      moveAside("manifest", file, key, reason)
    }).pipe(Effect.andThen(index?.forget([key]) ?? Effect.void))

  /** Deletes entries, packed or not; returns the packs that lost records. */
  const remove = (keys: ReadonlyArray<string>) => {
    const removed = keys.map(manifestFile)
    const touched = packs.kill(keys)
    for (const file of removed) files.removeIfExists(io, file)
    return touched
  }

  const deleteManifest: Shape["deleteManifest"] = (key) =>
    attempt("delete manifest", manifestPlace(key), () => void remove([key])).pipe(Effect.andThen(index?.forget([key]) ?? Effect.void))

  // Many at once (prune, clear): the packs they leave mostly empty are rewritten, so their space is freed.
  const deleteManifests: Shape["deleteManifests"] = (keys) =>
    attempt("delete manifests", manifestsDir, () => remove(keys)).pipe(
      Effect.andThen((touched) => quietly("compact the packs", () => packs.compact(touched))),
      Effect.andThen(index?.forget(keys) ?? Effect.void)
    )

  const validNames = (listed: ReadonlyArray<files.Listed>) => listed.filter((f) => VALID_NAME.test(f.name))

  const listManifests: Shape["listManifests"] = attempt("list manifests", manifestsDir, () => {
    const listed = validNames(files.listSharded(manifestsDir, true)).map((f) => ({ key: f.name, size: f.size }))
    const seen = new Set(listed.map((entry) => entry.key))
    for (const entry of packs.list()) if (!seen.has(entry.key)) listed.push(entry)
    return listed
  })

  const manifestKeys: Shape["manifestKeys"] = attempt("list manifests", manifestsDir, () => {
    const keys = new Set(validNames(files.listSharded(manifestsDir, false)).map((f) => f.name))
    for (const entry of packs.list()) keys.add(entry.key)
    return keys
  })

  /** Reads the blob `digest` with `small` or `large` by its size, or answers none when there is no such blob. */
  const readBlob = <A>(digest: string, small: (file: string) => A | undefined, large: (file: string) => Promise<A | undefined>) =>
    Effect.suspend(() => {
      let file: string
      let size: number | undefined
      try {
        file = blobFile(digest)
        size = files.sizeIfExists(file)
      } catch (cause) {
        return Effect.fail(fail("read blob", blobPlace(digest), cause))
      }
      if (size === undefined) return Effect.succeed(Option.none<A>())
      return size < files.LARGE_FILE
        ? attempt("read blob", file, () => Option.fromNullishOr(small(file)))
        : Effect.tryPromise({
          try: () => large(file).then((value) => Option.fromNullishOr(value)),
          catch: (cause) => fail("read blob", file, cause)
        })
    })

  const getBlob: Shape["getBlob"] = (digest) => readBlob(digest, files.readIfExists, files.readLargeIfExists)

  // A large blob is hashed while it is read (each chunk while the next is read); a small one after.
  const getBlobHashed: Shape["getBlobHashed"] = (digest) =>
    readBlob(
      digest,
      (file) => {
        const bytes = files.readIfExists(file)
        return bytes === undefined ? undefined : { bytes, sha256: hash("sha256", bytes, "hex") }
      },
      files.readLargeHashingIfExists
    )

  const putBlob: Shape["putBlob"] = (digest, bytes) =>
    Effect.suspend(() => {
      let file: string
      try {
        file = blobFile(digest)
        // Same name, same size: the same content (digests are checked on read).
        if (files.sizeIfExists(file) === bytes.byteLength) return Effect.void
      } catch (cause) {
        return Effect.fail(fail("write blob", blobPlace(digest), cause))
      }
      const publish = (temp: string) => {
        io.renameSync(temp, file)
        if (sync) files.fsyncDir(io, path.dirname(file))
      }
      if (bytes.byteLength < files.LARGE_FILE) {
        return attempt("write blob", file, () => inShard(file, (dir) => publish(files.writeTemp(io, dir, digest, bytes, sync))))
      }
      return Effect.tryPromise({
        try: async () => {
          const dir = path.dirname(file)
          io.mkdirSync(dir, { recursive: true })
          publish(await files.writeTempLarge(io, dir, digest, bytes, sync))
        },
        catch: (cause) => fail("write blob", file, cause)
      })
    })

  // A large blob is hashed while it is written to a temp file in the blobs
  // folder, then renamed into its shard: hashing costs about what writing
  // does, and they overlap. A small one is hashed first, as for putBlob.
  const hashAndPutBlob: Shape["hashAndPutBlob"] = (bytes) =>
    bytes.byteLength < files.LARGE_FILE
      ? Effect.suspend(() => {
        const digest = hash("sha256", bytes, "hex")
        return Effect.as(putBlob(digest, bytes), digest)
      })
      : Effect.tryPromise({
        try: async () => {
          const { digest, temp } = await files.writeTempHashing(io, blobsDir, bytes, sync, (digest) =>
            // Same name, same size: the same content (digests are checked on read).
            files.sizeIfExists(blobFile(digest)) === bytes.byteLength)
          if (temp !== undefined) {
            const file = blobFile(digest)
            try {
              inShard(file, () => io.renameSync(temp, file))
            } catch (error) {
              files.removeQuietly(io, temp)
              throw error
            }
            if (sync) files.fsyncDir(io, path.dirname(file))
          }
          return digest
        },
        // Named where the blob was going, as putBlob names it: hashing again costs only on this rare path.
        catch: (cause) => fail("write blob", blobPlace(hash("sha256", bytes, "hex")), cause)
      })

  const deleteBlob: Shape["deleteBlob"] = (digest) =>
    attempt("delete blob", blobPlace(digest), () => void files.removeIfExists(io, blobFile(digest)))

  const quarantineBlob: Shape["quarantineBlob"] = (digest, reason) =>
    attempt("quarantine blob", blobPlace(digest), () => moveAside("blob", blobFile(digest), digest, reason))

  const blobFiles: Shape["blobFiles"] = attempt("list blobs", blobsDir, () => validNames(files.listSharded(blobsDir, true)))

  const listBlobs: Shape["listBlobs"] = Effect.map(blobFiles, (listed) => listed.map((f) => ({ digest: f.name, size: f.size })))

  const removeTemps: Shape["removeTemps"] = (olderThanMs) =>
    attempt("remove temp files", root, () => {
      const now = Date.now()
      let removed = 0
      for (const dir of [manifestsDir, blobsDir, packsDir]) {
        for (const temp of files.listTemps(dir)) {
          if (now - temp.mtimeMs >= olderThanMs && files.removeIfExists(io, temp.path)) removed++
        }
      }
      return removed
    })

  const clearQuarantine: Shape["clearQuarantine"] = attempt("empty the quarantine", quarantineDir, () => {
    let removed = 0
    for (const name of fs.readdirSync(quarantineDir)) {
      if (files.removeIfExists(io, path.join(quarantineDir, name)) && !name.endsWith(".reason")) removed++
    }
    return removed
  })

  // Packing: when the store closes, on demand, and every `packEvery` writes if asked.
  const loose: Packs.Loose = {
    keys: () => validNames(files.listSharded(manifestsDir, false)).map((f) => f.name),
    read: (key) => files.readIfExists(manifestFile(key)),
    exists: (key) => files.sizeIfExists(manifestFile(key)) !== undefined,
    remove: (key) => void files.removeIfExists(io, manifestFile(key))
  }
  /** Counts a manifest written; whether it is time to pack during the run. */
  const wrote = () => ++unpacked >= packEvery && packEvery > 0
  const packNow = () => {
    unpacked = 0
    return packs.pack(loose)
  }
  const pack: Shape["pack"] = attempt("pack the manifest files", packsDir, packNow)
  // A write that triggers packing has stored its entry already: packing failing is worth a warning, not a failure.
  const packQuietly = quietly("pack the manifest files", packNow)
  // What a run wrote is packed when it ends, unless it is fewer than `packOnClose` entries.
  const close = Effect.andThen(
    Effect.suspend(() => (packOnClose > 0 && unpacked >= packOnClose ? packQuietly : Effect.void)),
    Effect.sync(packs.close)
  )

  return {
    backend: "local",
    directory: root,
    getManifest,
    peekManifest,
    putManifest,
    deleteManifest,
    deleteManifests,
    quarantineManifest,
    listManifests,
    manifestKeys,
    getBlob,
    getBlobHashed,
    putBlob,
    hashAndPutBlob,
    deleteBlob,
    quarantineBlob,
    listBlobs,
    blobFiles,
    removeTemps,
    clearQuarantine,
    checkPacks: attempt("read the packs", packsDir, packs.check),
    pack,
    close
  } satisfies Shape
})

const provideBoth = <R>(
  store: Effect.Effect<Shape, LocalBackendError, R>
): Layer.Layer<CacheStore.CacheStore | LocalCacheStore, LocalBackendError, R> =>
  Layer.effectContext(
    Effect.map(
      Effect.tap(store, (shape) => Effect.addFinalizer(() => shape.close)),
      (shape) => Context.make(LocalCacheStore, shape).pipe(Context.add(CacheStore.CacheStore, shape))
    )
  )

/**
 * The store in the cache folder `directory`, indexed by the `CacheIndex` in context.
 *
 * @since 0.1.0
 */
export const layerWithIndex = (
  directory: string,
  options?: Options
): Layer.Layer<CacheStore.CacheStore | LocalCacheStore, LocalBackendError, CacheIndex.CacheIndex> =>
  provideBoth(Effect.gen(function*() {
    return yield* make(directory, yield* CacheIndex.CacheIndex, options)
  }))

/**
 * The store in the cache folder `directory`, without an index (maintenance
 * then reads every manifest).
 *
 * @since 0.1.0
 */
export const layerWithoutIndex = (
  directory: string,
  options?: Options
): Layer.Layer<CacheStore.CacheStore | LocalCacheStore, LocalBackendError> =>
  provideBoth(make(directory, undefined, options))

/**
 * The store of a project: `<projectDir>/.expops/cache/`, indexed in
 * `<projectDir>/.expops/expops.sqlite`.
 *
 * @since 0.1.0
 */
export const layer = (
  projectDir: string,
  options?: Options
): Layer.Layer<CacheStore.CacheStore | LocalCacheStore, LocalBackendError> => {
  const where = projectPaths(projectDir)
  return layerWithIndex(where.cache, options).pipe(
    Layer.provide(CacheIndex.layer),
    Layer.provide(SqliteDatabase.layer(where.database))
  )
}
