/**
 * Schema issues as data: the leaves of an issue tree, each with its path as
 * keys (not text) and what it is, so that messages are built from structure
 * and nothing parses the text of Effect's formatter.
 *
 * The tree is walked the way Effect's formatters walk it: a `Pointer` extends
 * the path, `Composite` and a non-empty `AnyOf` group their issues. The wording
 * of each leaf ("Expected an integer", "Missing key") is Effect's, from its
 * Standard Schema formatter applied to that leaf alone.
 */
import * as SchemaAST from "effect/SchemaAST"
import * as SchemaIssue from "effect/SchemaIssue"

/**
 * One problem at one place in the input.
 *
 * - `UnexpectedKey`: a key the schema does not declare; `known` lists the
 *   keys declared where it was found, in declaration order.
 * - `MissingKey`: a required key is absent.
 * - `Invalid`: the value there is not what was expected.
 */
export type Leaf =
  | {
    readonly _tag: "UnexpectedKey"
    readonly path: ReadonlyArray<PropertyKey>
    readonly message: string
    readonly known: ReadonlyArray<string>
  }
  | { readonly _tag: "MissingKey"; readonly path: ReadonlyArray<PropertyKey>; readonly message: string }
  | { readonly _tag: "Invalid"; readonly path: ReadonlyArray<PropertyKey>; readonly message: string }

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Effect's message for a leaf (the first, for a leaf it formats as one). */
const messageOf = (issue: SchemaIssue.Issue): string => formatter(issue).issues[0]?.message ?? "Invalid value"

/** The keys a struct declares: what an unexpected key could have meant. */
const declaredKeys = (ast: SchemaAST.AST): Array<string> =>
  SchemaAST.isObjects(ast) ? ast.propertySignatures.map((p) => String(p.name)) : []

/**
 * Every leaf of an issue tree, in the order Effect's formatter lists them.
 */
export const leaves = (issue: SchemaIssue.Issue): Array<Leaf> => {
  const out: Array<Leaf> = []
  const walk = (issue: SchemaIssue.Issue, path: ReadonlyArray<PropertyKey>): void => {
    switch (issue._tag) {
      case "Pointer":
        return walk(issue.issue, [...path, ...issue.path])
      case "Encoding":
        return walk(issue.issue, path)
      case "Composite":
        for (const inner of issue.issues) walk(inner, path)
        return
      case "AnyOf":
        if (issue.issues.length > 0) {
          for (const inner of issue.issues) walk(inner, path)
          return
        }
        break
      case "UnexpectedKey":
        out.push({ _tag: "UnexpectedKey", path, message: messageOf(issue), known: declaredKeys(issue.ast) })
        return
      case "MissingKey":
        out.push({ _tag: "MissingKey", path, message: messageOf(issue) })
        return
    }
    // A filter, a wrong type, a union none of whose members matched: the
    // formatter words it (a filter's own message or its expectation), and may
    // point below it (a filter on a struct).
    for (const formatted of formatter(issue).issues) {
      const below = (formatted.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment))
      out.push({ _tag: "Invalid", path: [...path, ...below], message: formatted.message })
    }
  }
  walk(issue, [])
  return out
}

/**
 * A path as a user would write it in code: `["rows"][3]`.
 */
export const bracketPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((key) => `[${typeof key === "string" ? JSON.stringify(key) : String(key)}]`).join("")
