/**
 * A cache key's recipe: every part that decides whether a stored result may
 * be reused. The key is the SHA-256 of the recipe's canonical encoding; the
 * recipe itself is kept in the entry's manifest so that a miss can be
 * explained later, part by part (see `Explain`).
 *
 * @since 0.1.0
 */
import { hash } from "node:crypto"
import * as CanonicalHash from "./CanonicalHash.ts"
import type * as CodeFingerprint from "./CodeFingerprint.ts"

/**
 * Bumped whenever the stored format or the key recipe changes meaning, so
 * entries written by an older version are never read as valid.
 *
 * @since 0.1.0
 */
export const CACHE_FORMAT_VERSION = 5

/**
 * @since 0.1.0
 */
export type Kind = "step" | "process"

/**
 * @since 0.1.0
 */
export interface Recipe {
  readonly kind: Kind
  readonly name: string
  readonly format: number
  /** Fingerprint of the code closure of the body (see `CodeFingerprint`). */
  readonly code: string
  /**
   * What `code` is made of: the body, its definition, each declaration and
   * package it reaches. Absent in entries written before code closures.
   * Stored apart from the manifest, once per definition (see `CodeParts`):
   * a recipe read from a store has them only once `CodeParts.recipeOf` read
   * them back.
   */
  readonly codeParts?: ReadonlyArray<CodeFingerprint.Part> | undefined
  /** Why the stored code parts could not be read back (see `CodeParts.recipeOf`); for `explain`. */
  readonly codePartsUnavailable?: string | undefined
  readonly version?: string | undefined
  /** Canonical digest of the schema-encoded input. */
  readonly input: string
  /** Digest of each top-level input field, for explaining which one changed. */
  readonly inputParts: Readonly<Record<string, string>>
  /** For processes: which upstream process provided each input. */
  readonly inputSources?: Readonly<Record<string, string>> | undefined
  /** Canonical digest of the schema-encoded configuration (step config or process parameters). */
  readonly config: string
  /** The encoded configuration itself, so `explain` can say `0.1 -> 0.05`. */
  readonly configValue: unknown
  /** Fingerprints of the input, output and config schemas. */
  readonly schemas: { readonly input: string; readonly output: string; readonly config: string }
  /**
   * The seed derived for this call (see `Reproducibility`). Not part of the
   * key: an entry depends on it only when its computation drew random
   * numbers, which its trace records (see `Trace`).
   */
  readonly seed: number
  /** The root seed it was derived from, so `explain` can tell a new root seed from a new identity. */
  readonly rootSeed?: number | undefined
  /** For processes: digest of the project's data file, when one is configured. */
  readonly data?: string | undefined
  /** Where the data digest came from, for messages. */
  readonly dataPath?: string | undefined
  /** The process a step ran in (informational; the seed already depends on it). */
  readonly process?: string | undefined
  readonly pipeline?: string | undefined
}

/**
 * The key of a recipe: SHA-256 over the parts that decide reuse. The parts
 * kept only to explain (`inputParts`, `configValue`, names of sources) are
 * left out; they are derived from parts that are in. So is the seed: what
 * depends on it is known only once the computation ran (its trace).
 *
 * @since 0.1.0
 */
export const key = (recipe: Recipe): string =>
  CanonicalHash.digest([
    recipe.kind,
    recipe.name,
    recipe.format,
    recipe.code,
    recipe.version ?? null,
    recipe.input,
    recipe.config,
    recipe.schemas.input,
    recipe.schemas.output,
    recipe.schemas.config,
    recipe.data ?? null
  ])

/**
 * `key` for the calls of one step or process, whose recipes differ only in
 * their input and config: the encoding of the parts they share is
 * built once, and each call hashes one string joined at once. The same key as
 * `key` for the same recipe.
 *
 * @since 0.1.0
 */
export const keyer = (
  fixed: Pick<Recipe, "kind" | "name" | "format" | "code" | "version" | "schemas" | "data">
): (varying: Pick<Recipe, "input" | "config">) => string => {
  const token = CanonicalHash.primitive
  // The layout of `key`'s array: [kind, name, format, code, version, input, config, 3 schemas, data].
  const head = `[11;${[fixed.kind, fixed.name, fixed.format, fixed.code, fixed.version ?? null].map(token).join("")}`
  const schemas = [fixed.schemas.input, fixed.schemas.output, fixed.schemas.config].map(token).join("")
  const tail = `${token(fixed.data ?? null)}]`
  // The input and config are digests, 64 hex digits, on every call a step
  // makes: the text of its key is then the same bytes but for those two.
  // They are written into one buffer of the whole text, hashed as it is:
  // building and encoding the text anew took twice as long as hashing it.
  // Any 64 characters of one byte each in UTF-8 (ASCII) go the same way.
  const before = `${head}s64:`
  const after = `${schemas}${tail}`
  const template = `${before}${after}`.isWellFormed() ? Buffer.from(`${before}${ZEROS}s64:${ZEROS}${after}`, "utf8") : undefined
  const inputAt = Buffer.byteLength(before, "utf8")
  const configAt = inputAt + 64 + "s64:".length
  return (varying) => {
    if (template !== undefined && isAscii64(varying.input) && isAscii64(varying.config)) {
      template.write(varying.input, inputAt, 64, "latin1")
      template.write(varying.config, configAt, 64, "latin1")
      return hash("sha256", template, "hex")
    }
    const text = [head, token(varying.input), token(varying.config), schemas, tail].join("")
    // A lone surrogate (in a name, say) has another spelling: `key` knows it.
    return text.isWellFormed() ? hash("sha256", text, "hex") : key({ ...fixed, ...varying } as Recipe)
  }
}

/** 64 characters that UTF-8 spells in 64 bytes: ASCII, written as Latin-1 the same. (A regular expression costs 4x more.) */
const isAscii64 = (text: string): boolean => text.length === 64 && Buffer.byteLength(text, "utf8") === 64
const ZEROS = "0".repeat(64)
