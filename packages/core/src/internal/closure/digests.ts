/**
 * Digests computed from a module's syntax tree when first needed: a body, a
 * definition with its body left out, the whole module (for the fallback).
 * Most functions are never a body, so `analyze` does not digest them up front.
 */
import type { Span } from "./analysis.ts"
import { digest, isFunctionNode, isNode, type Node, serialize } from "./normalize.ts"

const findNode = (root: Node, span: Span, accept: (node: Node) => boolean): Node | undefined => {
  let found: Node | undefined
  const visit = (node: Node) => {
    if (found !== undefined || node.start > span[0] || node.end < span[1]) return
    if (node.start === span[0] && node.end === span[1] && accept(node)) {
      found = node
      return
    }
    for (const key in node) {
      const child = node[key]
      if (Array.isArray(child)) for (const item of child) isNode(item) && visit(item)
      else if (isNode(child)) visit(child)
    }
  }
  visit(root)
  return found
}

/** A unit serialized as in `analyze`: a declarator with its declaration's kind. */
const unitNodeAt = (program: Node, span: Span): Node | undefined => {
  for (const statement of program.body as Array<Node>) {
    const declaration = statement.type === "ExportNamedDeclaration" || statement.type === "ExportDefaultDeclaration"
      ? statement.declaration as Node | null
      : statement
    if (declaration?.type === "VariableDeclaration") {
      for (const d of declaration.declarations as Array<Node>) if (d.start === span[0] && d.end === span[1]) return { ...d, kind: declaration.kind } as Node
    }
  }
  return findNode(program, span, () => true)
}

/**
 * The digest of the node at `span` (with the node at `hole` left out), from
 * the module's syntax tree. `program` parses the module when it is needed.
 */
export const digestAt = (program: () => Node, what: "function" | "container" | "module", span?: Span, hole?: Span): string => {
  const tree = program()
  if (what === "module") return digest(serialize(tree))
  const isFn = (n: Node) => isFunctionNode(n)
  if (what === "function") {
    const node = findNode(tree, span!, isFn)
    return node === undefined ? "missing" : digest(serialize(node))
  }
  const container = findNode(tree, span!, (n) => n.type === "CallExpression" || n.type === "NewExpression") ?? unitNodeAt(tree, span!)
  const fn = hole === undefined ? undefined : findNode(tree, hole, isFn)
  return container === undefined ? "missing" : digest(serialize(container, fn))
}
