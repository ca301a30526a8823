/**
 * The normalised form of a syntax tree: only what changes what the code does.
 *
 * Positions, comments and formatting are not in the tree; quote style and
 * numeric spelling live in `raw`, which is dropped (the `value` stays);
 * redundant parentheses are not kept by the parser; type annotations,
 * type-only declarations and type assertions are erased, as Node erases them.
 * What remains is written out as one string and hashed.
 */
import { createHash } from "node:crypto"

/** An ESTree node as oxc-parser produces it. */
export interface Node {
  readonly type: string
  readonly start: number
  readonly end: number
  readonly [key: string]: unknown
}

export const isNode = (value: unknown): value is Node =>
  typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string"

export const isFunctionNode = (node: Node): boolean =>
  node.type === "FunctionExpression" || node.type === "ArrowFunctionExpression" || node.type === "FunctionDeclaration"

/** Keys that never change what the code does. */
const DROPPED_KEYS: ReadonlySet<string> = new Set([
  "start",
  "end",
  "range",
  "loc",
  "raw",
  "typeAnnotation",
  "returnType",
  "typeParameters",
  "typeArguments",
  "superTypeArguments",
  "superTypeParameters",
  "implements",
  "declare",
  "definite",
  "accessibility",
  "override",
  "readonly",
  "abstract",
  "importKind",
  "exportKind",
  // `{ a }` and `{ a: a }` are the same object.
  "shorthand"
])

/** TypeScript nodes that exist at run time (Node refuses the non-erasable ones, but they mean something). */
const RUNTIME_TS_NODES: ReadonlySet<string> = new Set([
  "TSEnumDeclaration",
  "TSEnumBody",
  "TSEnumMember",
  "TSModuleDeclaration",
  "TSModuleBlock",
  "TSParameterProperty",
  "TSExportAssignment",
  "TSImportEqualsDeclaration",
  "TSExternalModuleReference"
])

/** Type assertions: only their operand runs. */
const TS_WRAPPERS: ReadonlySet<string> = new Set([
  "TSAsExpression",
  "TSSatisfiesExpression",
  "TSNonNullExpression",
  "TSTypeAssertion",
  "TSInstantiationExpression",
  "ParenthesizedExpression"
])

/** Whether a node is erased at run time: a type, or a type-only declaration or import. */
export const isTypeOnly = (node: Node): boolean => {
  if (node.type.startsWith("TS")) return !RUNTIME_TS_NODES.has(node.type) && !TS_WRAPPERS.has(node.type)
  if (node.declare === true) return true
  return node.importKind === "type" || node.exportKind === "type"
}

/** The node that runs in place of `node`: its operand, for a type assertion. */
export const unwrap = (node: Node): Node => {
  let current = node
  while (TS_WRAPPERS.has(current.type)) current = current.expression as Node
  return current
}

/**
 * Writes `node` in normalised form. `hole`, when given, is written as a
 * placeholder: the definition of a step without its body, so that the two
 * can change (and be explained) apart.
 */
export const serialize = (node: Node, hole?: Node): string => {
  const out: Array<string> = []
  const write = (value: unknown): void => {
    if (Array.isArray(value)) {
      out.push("[")
      for (const item of value) {
        if (isNode(item) && isTypeOnly(item)) continue
        write(item)
        out.push(",")
      }
      out.push("]")
    } else if (isNode(value)) {
      const current = unwrap(value)
      if (current === hole) {
        out.push("<body>")
        return
      }
      out.push(current.type, "{")
      for (const key in current) {
        if (key === "type" || DROPPED_KEYS.has(key)) continue
        const child = current[key]
        // `x?` on a parameter is a type; `a?.b` is not.
        if (key === "optional" && !(current.type === "MemberExpression" || current.type === "CallExpression")) continue
        if (child === null || child === undefined || child === false) continue
        if (Array.isArray(child) && child.length === 0) continue
        if (isNode(child) && isTypeOnly(child)) continue
        out.push(key, ":")
        write(child)
        out.push(";")
      }
      out.push("}")
    } else if (typeof value === "object" && value !== null) {
      // Plain records: a regular expression's { pattern, flags }, a template's { raw, cooked }.
      out.push("{")
      for (const key of Object.keys(value).sort()) {
        out.push(key, ":")
        write((value as Record<string, unknown>)[key])
        out.push(";")
      }
      out.push("}")
    } else if (typeof value === "bigint") {
      out.push(`${value}n`)
    } else {
      out.push(JSON.stringify(value) ?? "undefined")
    }
  }
  write(node)
  return out.join("")
}

/** A short digest: parts of a fingerprint only need to tell versions apart. */
export const digest = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 32)
