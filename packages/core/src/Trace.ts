/**
 * Traced dependencies: what a step or process body used while it ran,
 * recorded in its entry, and checked before the entry is served again.
 *
 * - **Files.** Every file the body read — through Effect's `FileSystem`
 *   service or directly through `node:fs` (`readFileSync`, `readFile`,
 *   `fs.promises.readFile`, `createReadStream`, `open`/`openSync` and
 *   `fs.promises.open` for reading) — by its path (relative to the
 *   project) and its content digest. An entry is served only while each
 *   file still has that digest; a missing file has the digest `absent`.
 *   Digests are cached by path, size, mtime and inode, so checking costs a
 *   `stat` per file unless the file changed.
 * - **Randomness.** Whether the body drew from Effect's `Random` or from
 *   `Math.random` (seeded per body while it runs). A body that drew holds
 *   only for the seed it ran with; one that did not is served whatever the
 *   seed.
 *
 * A step's trace is part of the trace of the body that called it, whether
 * the step ran or was served from the cache: a process is invalidated by a
 * file any of its steps read.
 *
 * Reads are attributed to the body whose fiber made them: the fiber running
 * when the function is called (`Fiber.getCurrent()`), or, for calls made
 * later from a callback or promise continuation the body started, the body
 * that started it (an `AsyncLocalStorage` entered around each asynchronous
 * operation of the body). Not traced: worker threads and child processes,
 * native code reading files itself, reads of a file descriptor or
 * `FileHandle` opened before the body ran, `stat`/`exists`/`readdir`
 * (directory listings), and anything a body does after it finished (a timer
 * it left behind).
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Tracer from "effect/Tracer"
import * as Digests from "./internal/trace/digests.ts"
import * as Patch from "./internal/trace/patch.ts"
import { CurrentTrace, Recorder, storage, type FileRead, type Trace } from "./internal/trace/recorder.ts"

export {
  /**
   * The recorder of the body running on a fiber.
   *
   * @since 0.1.0
   */
  CurrentTrace,
  /**
   * @since 0.1.0
   */
  type FileRead,
  /**
   * @since 0.1.0
   */
  type Trace
}

/**
 * Never records reads under `dir` (a cache's own folder). Every `.expops`
 * folder is ignored already.
 *
 * @since 0.1.0
 */
export { ignore } from "./internal/trace/recorder.ts"

/**
 * The digest a missing file is recorded with.
 *
 * @since 0.1.0
 */
export const ABSENT = Digests.ABSENT

/**
 * The `FileSystem` service by its key, without loading its module (which
 * brings `Stream` and `Sink` onto the CLI's start-up path): services are
 * found by their key's string.
 */
const FileSystemService = Context.Service<FileSystem.FileSystem>("effect/FileSystem")

const IDENTIFIER = "~effect/Effect/identifier"
const EVALUATE = "~effect/Effect/evaluate"

/**
 * The body's tracer, extended so that each asynchronous operation of the body
 * (a callback, a promise) starts inside the body's `AsyncLocalStorage`: its
 * continuations are then attributed to the body, though no fiber runs them.
 * Spans are the enclosing tracer's.
 */
const asyncContext = (tracer: Tracer.Tracer): Tracer.Tracer => {
  // A step called in a body already runs with the body's extended tracer: the same serves it.
  if (extended.has(tracer)) return tracer
  let wrapped = withAsyncContext.get(tracer)
  if (wrapped === undefined) {
    withAsyncContext.set(tracer, wrapped = makeAsyncContext(tracer))
    extended.add(wrapped)
  }
  return wrapped
}

/** One extended tracer per tracer: it depends on nothing else (it finds the recorder on the fiber). */
const withAsyncContext = new WeakMap<Tracer.Tracer, Tracer.Tracer>()
const extended = new WeakSet<Tracer.Tracer>()

const makeAsyncContext = (tracer: Tracer.Tracer): Tracer.Tracer => {
  const inner = tracer.context
  const evaluate: (primitive: any, fiber: Fiber.Fiber<any, any>) => any = inner !== undefined ? inner : (primitive, fiber) => primitive[EVALUATE](fiber)
  // The fiber's recorder, not the body's: none where the cache works on the body's behalf (see `outside`),
  // whose callbacks must not inherit the body's context from whatever resumed the fiber.
  const asynchronous = (primitive: any, fiber: Fiber.Fiber<any, any>) => {
    const recorder = fiber.getRef(CurrentTrace)
    const run = () => evaluate(primitive, fiber)
    return recorder === undefined ? storage.exit(run) : storage.run(recorder, run)
  }
  const wrapped: { -readonly [K in keyof Tracer.Tracer]: Tracer.Tracer[K] } = Object.create(tracer)
  // Every operation of a body passes here: the common case is one comparison and the usual evaluation.
  wrapped.context = inner === undefined
    ? (primitive: any, fiber) => (primitive[IDENTIFIER] === "Async" ? asynchronous(primitive, fiber) : primitive[EVALUATE](fiber))
    : (primitive: any, fiber) => (primitive[IDENTIFIER] === "Async" ? asynchronous(primitive, fiber) : inner(primitive, fiber))
  return wrapped
}

/** The `FileSystem` a body sees: its reads recorded at call time. */
const tracedFileSystem = (fileSystem: FileSystem.FileSystem, recorder: Recorder): FileSystem.FileSystem => ({
  ...fileSystem,
  readFile: (path) => Effect.suspend(() => (recorder.read(path), fileSystem.readFile(path))),
  readFileString: (path, encoding) => Effect.suspend(() => (recorder.read(path), fileSystem.readFileString(path, encoding))),
  stream: (path, options) => {
    recorder.read(path)
    return fileSystem.stream(path, options)
  },
  open: (path, options) =>
    Effect.suspend(() => {
      const flag = options?.flag ?? "r"
      if (flag.includes("w")) recorder.write(path)
      if (flag.includes("r") || flag.includes("+")) recorder.read(path)
      return fileSystem.open(path, options)
    }),
  writeFile: (path, data, options) =>
    Effect.suspend(() => {
      if ((options?.flag ?? "w").includes("w")) recorder.write(path)
      return fileSystem.writeFile(path, data, options)
    }),
  writeFileString: (path, data, options) =>
    Effect.suspend(() => {
      if ((options?.flag ?? "w").includes("w")) recorder.write(path)
      return fileSystem.writeFileString(path, data, options)
    })
})

/** Where a trace names a file: relative to the project (the working directory) when inside it. */
const display = (absolute: string): string => {
  const relative = Path.relative(process.cwd(), absolute)
  return relative === "" || relative.startsWith("..") || Path.isAbsolute(relative) ? absolute : relative
}

/** The recorder's reads as a trace: each file's digest as it was read, `changed-while-read` when it changed meanwhile. */
const finish = (recorder: Recorder): Effect.Effect<Trace> =>
  recorder.reads.size === 0 ? Effect.succeed({ files: [], random: recorder.drew, seed: recorder.seed }) : Effect.map(
    Effect.forEach(recorder.reads, ([absolute, read]) => {
      if ("digest" in read) return Effect.succeed({ path: display(absolute), digest: read.digest })
      const now = Digests.signature(absolute)
      if (!Digests.sameSignature(read.signature, now)) return Effect.succeed({ path: display(absolute), digest: Digests.UNSTABLE })
      return Effect.map(Digests.digest(absolute, now), (digest) => ({ path: display(absolute), digest }))
    }),
    (files) => ({ files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), random: recorder.drew, seed: recorder.seed })
  )

/**
 * Runs a body with `Random` seeded with `seed` (as `Random.withSeed`, the
 * same values) and records what it uses; answers its value and its trace.
 *
 * @since 0.1.0
 */
export const record = <A, E, R>(body: Effect.Effect<A, E, R>, seed: number): Effect.Effect<{ readonly value: A; readonly trace: Trace }, E, R> =>
  Random.withSeed(
    Effect.withFiber((fiber) => {
      const recorder = new Recorder(fiber.getRef(Random.Random), seed)
      const release = Patch.hold()
      const fileSystem = Context.getOption(fiber.context, FileSystemService)
      // One change of context for all of them: this runs for every body computed.
      const traced = Effect.updateContext(body, (context: Context.Context<never>) => {
        let inside = Context.add(Context.add(Context.add(context, Random.Random, recorder.random), CurrentTrace, recorder), Tracer.Tracer, asyncContext(fiber.getRef(Tracer.Tracer)))
        if (Option.isSome(fileSystem)) inside = Context.add(inside, FileSystemService, tracedFileSystem(fileSystem.value, recorder))
        return inside as Context.Context<R>
      })
      return traced.pipe(
        Effect.flatMap((value) => Effect.map(finish(recorder), (trace) => ({ value, trace }))),
        Effect.onExit(() =>
          Effect.sync(() => {
            recorder.closed = true
            release()
          })
        )
      )
    }),
    seed
  )

const unseeded: Random.Random = {
  nextDoubleUnsafe: () => Patch.nodeRandom(),
  nextIntUnsafe: () => Math.floor(Patch.nodeRandom() * (Number.MAX_SAFE_INTEGER - Number.MIN_SAFE_INTEGER + 1)) + Number.MIN_SAFE_INTEGER
}

/**
 * Runs `effect` (the cache's work for a step a body calls: its lookup, its
 * store) outside the body's trace: what it reads (the store's files), the
 * random numbers it draws (a temp file's name, a retry's jitter) are not the
 * body's, and do not advance the body's seeded streams.
 *
 * @since 0.1.0
 */
export const outside = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.updateContext(effect, leaveBody)

/** One change of context for both (this runs for every step a body calls). */
const leaveBody = <R>(context: Context.Context<R>): Context.Context<R> =>
  Context.add(Context.add(context, CurrentTrace, undefined), Random.Random, unseeded)

/**
 * Keeps the `node:fs` and `Math.random` wrappers installed until the scope
 * closes (a run): bodies then do not install and restore them one by one.
 *
 * @since 0.1.0
 */
export const installed = Effect.acquireRelease(Effect.sync(Patch.hold), (release) => Effect.sync(release))

/**
 * Adds the trace of a step a body called (ran or served) to that body's
 * trace. Outside bodies, nothing.
 *
 * @since 0.1.0
 */
export const absorb = (recorder: Recorder | undefined, trace: Trace | undefined): void => {
  if (recorder !== undefined && trace !== undefined) recorder.absorb(trace)
}

/**
 * Whether `trace` needs nothing checked: no file read, no random number drawn.
 *
 * @since 0.1.0
 */
export const isStatic = (trace: Trace | undefined): boolean => trace === undefined || (!trace.random && trace.files.length === 0)

/**
 * The result of checking a trace now.
 *
 * @since 0.1.0
 */
export interface Check {
  /** Every dependency still has its recorded value (and the seed matches, if it drew). */
  readonly holds: boolean
  /** What changed, for messages: the files whose digests differ, and whether the seed did. */
  readonly changedFiles: ReadonlyArray<FileRead>
  readonly seedChanged: boolean
  /**
   * The values the trace's dependencies have now, hashed: where the entry
   * computed under them is kept (a variant of the key, see `Cache`).
   */
  readonly variant: string
}

/**
 * Checks a trace against the files now and the seed this call would run
 * with (`undefined`: the seed is not checked). Relative paths are the
 * project's: resolved against `root`, by default the working directory
 * (the project folder during `expops run`).
 *
 * @since 0.1.0
 */
export const check = (trace: Trace, seed: number | undefined, root?: string): Effect.Effect<Check> => {
  const paths = trace.files.map((file) => (root === undefined ? Path.resolve(file.path) : Path.resolve(root, file.path)))
  // On a hit every digest is known by its file's signature: no fiber work, one stat a file.
  const known = paths.map((path) => Digests.digestSync(path))
  if (!known.includes(undefined)) return Effect.succeed(compare(trace, seed, known as Array<string>))
  return Effect.map(Effect.forEach(paths, (path, i) => known[i] !== undefined ? Effect.succeed(known[i]) : Digests.digest(path)), (digests) =>
    compare(trace, seed, digests))
}

const compare = (trace: Trace, seed: number | undefined, digests: ReadonlyArray<string>): Check => {
  const changedFiles: Array<FileRead> = []
  trace.files.forEach((file, i) => {
    if (digests[i] !== file.digest) changedFiles.push({ path: file.path, digest: digests[i]! })
  })
  const seedChanged = trace.random && seed !== undefined && seed !== trace.seed
  let variant: string | undefined
  return {
    holds: changedFiles.length === 0 && !seedChanged,
    changedFiles,
    seedChanged,
    // Needed only when the trace does not hold: hashed then.
    get variant() {
      if (variant === undefined) {
        const hash = createHash("sha256").update(trace.random ? `seed\0${seed}\0` : "no-seed\0")
        trace.files.forEach((file, i) => hash.update(`${file.path}\0${digests[i]}\0`))
        variant = hash.digest("hex")
      }
      return variant
    }
  }
}

/**
 * Forgets the digests cached by file signature (for tests that rewrite a
 * file within its mtime's resolution).
 *
 * @since 0.1.0
 */
export const clearDigests = (): void => Digests.clear()

/**
 * Adds the file digests an earlier run kept in `file` (see `keepDigests`):
 * each is used only while its file's size, mtime, ctime and inode are the
 * ones it was kept with. A missing or damaged file adds nothing.
 *
 * @since 0.1.0
 */
export const restoreDigests = (file: string): void => Digests.restore(file)

/**
 * Keeps the file digests this process knows (traced files, the data file)
 * in `file` for the next run, so that an unchanged large file is not read
 * again to be checked.
 *
 * @since 0.1.0
 */
export const keepDigests = (file: string): void => Digests.keep(file)
