/**
 * Fingerprints of schemas, so that a changed input or output type never
 * decodes an entry written for the old one.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as CanonicalHash from "./CanonicalHash.ts"

const cache = new WeakMap<object, string>()

/**
 * SHA-256 of the schema's structural representation, both its encoded side
 * and its type side (a transformation can change one without the other).
 * Computed once per schema object.
 *
 * @since 0.1.0
 */
export const fingerprint = (schema: Schema.Top): string => {
  const known = cache.get(schema)
  if (known !== undefined) return known
  let parts: unknown
  try {
    parts = [Schema.toRepresentation(schema), Schema.toRepresentation(Schema.toType(schema))]
  } catch {
    // Some declarations have no structural representation; their AST's
    // printed form still changes when the schema does.
    parts = String(schema.ast)
  }
  const digest = CanonicalHash.digest(JSON.parse(JSON.stringify(parts)))
  cache.set(schema, digest)
  return digest
}
