/**
 * The config file as a plain value with the line of every key, parsed with
 * `yaml` once per content and kept in `.expops/config-document.bin` after.
 *
 * Loading `yaml` is a tenth of a cached run's start-up, for a file that
 * rarely changes. The kept document is keyed by a digest of the text and of
 * the parser's version, so an edit (or a new `yaml`) parses again; it holds
 * everything the CLI asks of the document (its value, whether a path is
 * written, a path's line), so a cached run never loads the parser. It is
 * written with `node:v8`'s serializer, which keeps what YAML can say and
 * JSON cannot (`.inf`, `.nan`, `-0`).
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { deserialize, serialize } from "node:v8"

/** Bumped when the kept shape changes: an older file is parsed again. */
const FORMAT = 1

export type ConfigPath = ReadonlyArray<string | number>

export interface ConfigDocument {
  /** The document as plain data (`yaml`'s `toJS()`). */
  readonly value: unknown
  /** Line (1-based) of a path, or of its nearest ancestor that is written. */
  readonly lineOf: (path: ConfigPath) => number | undefined
  /** Whether the document has a value at a path, as written. */
  readonly has: (path: ConfigPath) => boolean
  /** Where it came from: the kept copy, or the parser just now. */
  readonly source: "kept" | "parsed"
}

/** Malformed YAML: the parser's first complaint and its line. */
export interface YamlProblem {
  readonly reason: string
  readonly line: number | undefined
}

interface Kept {
  readonly format: number
  readonly digest: string
  readonly value: unknown
  /** `[path key, line]` for every path written in the document (the root is the empty key). */
  readonly lines: ReadonlyArray<readonly [string, number | undefined]>
}

const pathKey = (path: ConfigPath): string => path.map(String).join("\u0000")

const fromLines = (value: unknown, lines: ReadonlyMap<string, number | undefined>, source: ConfigDocument["source"]): ConfigDocument => ({
  value,
  source,
  has: (path) => lines.has(pathKey(path)),
  lineOf: (path) => {
    // The deepest prefix that is written: a missing key is reported at its parent.
    for (let length = path.length; length >= 0; length--) {
      const key = pathKey(path.slice(0, length))
      if (lines.has(key)) return lines.get(key)
    }
    return undefined
  }
})

const parserVersion = (): string => {
  try {
    const require = createRequire(import.meta.url)
    return JSON.parse(readFileSync(require.resolve("yaml/package.json"), "utf8")).version
  } catch {
    return "unknown"
  }
}

const digestOf = (text: string): string =>
  createHash("sha256").update(`expops config document ${FORMAT}\0yaml@${parserVersion()}\0`).update(text).digest("hex")

const readKept = (file: string, digest: string): ConfigDocument | undefined => {
  try {
    const kept = deserialize(readFileSync(file)) as Kept
    if (kept?.format !== FORMAT || kept.digest !== digest || !Array.isArray(kept.lines)) return undefined
    return fromLines(kept.value, new Map(kept.lines), "kept")
  } catch {
    // Missing, unreadable or from another Node: parse the text again.
    return undefined
  }
}

const parse = async (text: string): Promise<{ readonly document: ConfigDocument; readonly lines: Map<string, number | undefined> } | YamlProblem> => {
  const { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } = await import("yaml")
  const counter = new LineCounter()
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true })
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!
    // The parser's message repeats the position and quotes the source; keep the first sentence.
    return { reason: error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""), line: error.linePos?.[0]?.line }
  }
  const lineAt = (node: unknown): number | undefined => {
    const offset = (node as { range?: [number] } | null | undefined)?.range?.[0]
    return offset === undefined ? undefined : counter.linePos(offset).line
  }
  const lines = new Map<string, number | undefined>()
  const walk = (node: unknown, path: Array<string | number>, line: number | undefined): void => {
    lines.set(pathKey(path), line)
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue
        walk(pair.value, [...path, String(pair.key.value)], lineAt(pair.key) ?? line)
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => walk(item, [...path, index], lineAt(item) ?? line))
    }
  }
  walk(doc.contents, [], lineAt(doc.contents))
  return { document: fromLines(doc.toJS(), lines, "parsed"), lines }
}

/**
 * The document of a config file's text: the copy kept in `keptFile` when it
 * is of this text, else parsed (malformed YAML answers a `YamlProblem`).
 * `keep` writes a parsed document to `keptFile`; callers call it once the
 * config is known to be valid, so only valid configs are kept.
 */
export const read = async (text: string, keptFile: string): Promise<
  { readonly document: ConfigDocument; readonly keep: () => void } | YamlProblem
> => {
  const digest = digestOf(text)
  const kept = readKept(keptFile, digest)
  if (kept !== undefined) return { document: kept, keep: () => {} }
  const parsed = await parse(text)
  if (!("document" in parsed)) return parsed
  return {
    document: parsed.document,
    keep: () => {
      const record: Kept = { format: FORMAT, digest, value: parsed.document.value, lines: [...parsed.lines] }
      try {
        mkdirSync(Path.dirname(keptFile), { recursive: true })
        const temporary = `${keptFile}.${process.pid}.tmp`
        writeFileSync(temporary, serialize(record))
        renameSync(temporary, keptFile)
      } catch {
        // A copy that cannot be kept is parsed again next time; nothing is lost.
      }
    }
  }
}
