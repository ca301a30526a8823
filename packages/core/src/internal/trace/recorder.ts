/**
 * What a running body has used so far: the files it read and whether it drew
 * random numbers. One recorder per execution of a step or process body,
 * reached from the body's fiber (`CurrentTrace`) for calls made while the
 * fiber runs, and through an `AsyncLocalStorage` for callbacks and promise
 * continuations the body started (see `context` in `record`).
 */
import { AsyncLocalStorage } from "node:async_hooks"
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Fiber from "effect/Fiber"
import type * as Random from "effect/Random"
import * as Digests from "./digests.ts"

/** One file a body read: where (relative to the project when inside it) and its content digest (`absent` when missing). */
export interface FileRead {
  readonly path: string
  readonly digest: string
}

/** What a finished body used, as stored in its entry's manifest. */
export interface Trace {
  readonly files: ReadonlyArray<FileRead>
  /** Whether it (or a step it called) drew random numbers: then it holds only for `seed`. */
  readonly random: boolean
  /** The seed it ran with. */
  readonly seed: number
}

export class Recorder {
  /** Absolute path -> what it looked like when first read (to detect a change while running), or its digest when known. */
  readonly reads = new Map<string, { readonly signature: Digests.Signature | undefined } | { readonly digest: string }>()
  /** Files the body created or overwrote before reading them: its own output, not a dependency. */
  readonly written = new Set<string>()
  drew = false
  /** Set when the body has finished: later reads and draws (a timer it left behind) are not its own. */
  closed = false
  readonly random: Random.Random
  readonly seed: number
  constructor(seeded: Random.Random, seed: number) {
    this.seed = seed
    // Drawing marks the body as seed-dependent; the values are the seeded stream's.
    this.random = {
      nextDoubleUnsafe: () => {
        this.drew = true
        return seeded.nextDoubleUnsafe()
      },
      nextIntUnsafe: () => {
        this.drew = true
        return seeded.nextIntUnsafe()
      }
    }
  }
  /** A read of `path` (as given to `fs`), resolved against the working directory (the project during `expops run`). */
  read(path: string): void {
    const absolute = Path.resolve(path)
    if (this.reads.has(absolute) || this.written.has(absolute) || isIgnored(absolute)) return
    this.reads.set(absolute, { signature: Digests.signature(absolute) })
  }
  /** A write to `path`: read back later, it is the body's own output. (Read before, it stays a dependency.) */
  write(path: string): void {
    const absolute = Path.resolve(path)
    if (!this.reads.has(absolute)) this.written.add(absolute)
  }
  /** Takes in the trace of a step this body called: its reads and draws are this body's too. */
  absorb(trace: Trace): void {
    if (trace.random) this.drew = true
    for (const file of trace.files) {
      const absolute = Path.resolve(file.path)
      if (!this.reads.has(absolute)) this.reads.set(absolute, { digest: file.digest })
    }
  }
}

export const CurrentTrace = Context.Reference<Recorder | undefined>("expops/CurrentTrace", { defaultValue: () => undefined })

/** The recorder of the body whose async work is running now (a callback or continuation it started). */
export const storage = new AsyncLocalStorage<Recorder>()

/** The recorder of the body running now, if any and if it has not finished. */
export const current = (): Recorder | undefined => {
  const fiber = Fiber.getCurrent()
  const recorder = fiber !== undefined ? fiber.getRef(CurrentTrace) : storage.getStore()
  return recorder === undefined || recorder.closed ? undefined : recorder
}

const ignored: Array<string> = []

/**
 * Folders whose files are never a body's dependency: where caches keep their
 * entries (a step's lookup inside a process body reads them). Every
 * `.expops` folder is one.
 */
export const ignore = (dir: string): void => {
  const absolute = Path.resolve(dir) + Path.sep
  if (!ignored.includes(absolute)) ignored.push(absolute)
}

const EXPOPS = `${Path.sep}.expops${Path.sep}`

const isIgnored = (absolute: string): boolean => {
  if (absolute.includes(EXPOPS)) return true
  for (const dir of ignored) if (absolute.startsWith(dir)) return true
  return false
}
