/**
 * What one module's source says about the code it holds, for code closures:
 * its top-level declarations ("units") with their normalised digests and the
 * module-level names each one reads, its imports and exports, and every
 * function in it with the variables of enclosing functions it reads.
 *
 * Names resolve as the language resolves them: block, function, catch and
 * class scopes, `var` and function hoisting, destructuring, shadowing; type
 * positions are not reads. The result is plain data, so it can be kept in an
 * index keyed by the source's digest and reused without parsing again.
 */
import { ANALYSIS_FORMAT, type Captured, type Export, type FileAnalysis, type Finding, type Import, type Ref, type UnitKind } from "./analysis.ts"
import { digest, isFunctionNode, isNode, isTypeOnly, type Node, serialize, unwrap } from "./normalize.ts"
import { lineIndex, parse, visitorKeys as parserVisitorKeys } from "./parse.ts"

/**
 * How a name was declared. A `const`, function or class whose initializer
 * reads only static names is itself static: its value is fixed by code the
 * closure already holds. A parameter, a `let` or `var`, or anything derived
 * from one, is not: its value is known only at run time.
 */
interface Declared {
  readonly kind: "const" | "let" | "var" | "function" | "class" | "param" | "import"
  /** The code that gives it its value (an initializer, the function or class itself). */
  readonly init?: Node | undefined
}

interface Binding extends Declared {
  readonly name: string
  readonly start: number
  readonly line: number
  readonly column: number
  readonly depends: Set<Binding>
  isStatic: boolean
}

const PARAM: Declared = { kind: "param" }

interface Scope {
  readonly parent: Scope | undefined
  readonly depth: number
  /** The nearest function (or module) scope: where `var` goes. */
  readonly hoist: Scope
  readonly bindings: Map<string, Binding>
  readonly isModule: boolean
}

const newScope = (parent: Scope | undefined, isFunction: boolean): Scope => {
  const scope: { -readonly [K in keyof Scope]: Scope[K] } = {
    parent,
    depth: parent === undefined ? 0 : parent.depth + 1,
    hoist: undefined as unknown as Scope,
    bindings: new Map(),
    isModule: parent === undefined
  }
  scope.hoist = isFunction || parent === undefined ? scope : parent.hoist
  return scope
}

interface FunctionRecord {
  readonly node: Node
  /** The call it is an argument of, through object and array literals. */
  readonly call: Node | undefined
  readonly statics: Set<Binding>
  readonly start: number
  readonly end: number
  readonly scope: Scope
  readonly parent: FunctionRecord | undefined
  readonly unit: number
  readonly captured: Map<string, Captured>
}

/** The bindings whose initializers are being walked, innermost first. */
interface Initializing {
  readonly bindings: ReadonlyArray<Binding>
  readonly parent: Initializing | undefined
}

interface Reference {
  readonly initializing: Initializing | undefined
  readonly name: string
  readonly member: string | undefined
  readonly scope: Scope
  readonly start: number
  readonly fn: FunctionRecord | undefined
  readonly unit: number
  /** Whether it is the callee of a `new` with no arguments (`new Date()`). */
  readonly bareNew: boolean
  /** Whether it asks for a service (`yield* Db`) or provides one (`Layer.succeed(Db, ...)`). */
  readonly service?: "demand" | "provide" | undefined
}

/** Calls whose results differ from run to run, by global object and member. */
const NONDETERMINISTIC: Readonly<Record<string, ReadonlySet<string>>> = {
  Math: new Set(["random"]),
  Date: new Set(["now"]),
  performance: new Set(["now"]),
  crypto: new Set(["randomUUID", "getRandomValues"])
}
/** The same, imported by name from a builtin module. */
const NONDETERMINISTIC_IMPORTS: Readonly<Record<string, ReadonlySet<string>>> = {
  "node:crypto": new Set(["randomUUID", "getRandomValues", "randomBytes", "randomInt"]),
  crypto: new Set(["randomUUID", "getRandomValues", "randomBytes", "randomInt"]),
  "node:perf_hooks": new Set(["performance"])
}
const FILE_MODULES: ReadonlySet<string> = new Set(["node:fs", "fs", "node:fs/promises", "fs/promises"])

/** Keys holding types, never values. */
const TYPE_KEYS: ReadonlySet<string> = new Set([
  "typeAnnotation",
  "returnType",
  "typeParameters",
  "typeArguments",
  "superTypeArguments",
  "implements"
])


/** `X.Service` or `Service`, the callee that declares a service in Effect (`Context.Service`). */
const isServiceCallee = (node: Node): boolean => {
  const callee = unwrap(node)
  if (callee.type === "Identifier") return callee.name === "Service"
  return callee.type === "MemberExpression" && callee.computed !== true && isNode(callee.property) && callee.property.name === "Service"
}

/** The string literal a service declaration is keyed by: `Context.Service<Self, Shape>()("app/Db")`, `Context.Service<Shape>("app/Db")`. */
const literalKey = (call: Node): string | undefined => {
  const first = (call.arguments as Array<Node>)[0]
  const key = first === undefined ? undefined : unwrap(first)
  return key?.type === "Literal" && typeof key.value === "string" ? key.value : undefined
}

/** The key of the service a top-level declaration declares, if it declares one. */
const serviceKey = (declaration: Node): string | undefined => {
  let declared: Node | undefined = declaration.type === "ClassDeclaration" || declaration.type === "ClassExpression"
    ? declaration
    : isNode(declaration.init)
    ? unwrap(declaration.init)
    : undefined
  if (declared?.type === "ClassExpression" || declared?.type === "ClassDeclaration") {
    const superClass = isNode(declared.superClass) ? unwrap(declared.superClass) : undefined
    if (superClass?.type !== "CallExpression") return undefined
    const inner = unwrap(superClass.callee as Node)
    return inner.type === "CallExpression" && isServiceCallee(inner.callee as Node) ? literalKey(superClass) : undefined
  }
  declared = declared?.type === "CallExpression" ? declared : undefined
  return declared !== undefined && isServiceCallee(declared.callee as Node) ? literalKey(declared) : undefined
}

/**
 * Analyses a module's source. Throws a `SyntaxProblem` when it does not parse.
 */
export const analyze = (file: string, source: string, program: Node = parse(file, source)): FileAnalysis => {
  const visitorKeys = parserVisitorKeys()
  const at = lineIndex(source)

  const module = newScope(undefined, true)
  const units: Array<{
    kind: UnitKind
    names: Array<string>
    title: string | undefined
    node: Node
    refs: Set<Ref>
    nondeterminism: Array<Finding>
    external: Array<Finding>
    service: string | undefined
    demands: Set<string>
    provides: Set<string>
  }> = []
  const imports: Record<string, Import> = {}
  const exports: Record<string, Export> = {}
  const stars: Array<string> = []
  const specifiers = new Set<string>()
  const functions: Array<FunctionRecord> = []
  const references: Array<Reference> = []
  const dynamicImports: Array<{ readonly spec: string; readonly unit: number }> = []

  let scope = module
  let fn: FunctionRecord | undefined
  let unit = -1
  let initializing: Initializing | undefined
  /** Walks the code that gives `bindings` their values, noting what it reads. */
  const initializingThem = (bindings: ReadonlyArray<Binding>, body: () => void) => {
    if (bindings.length === 0) return body()
    const saved = initializing
    initializing = { bindings, parent: saved }
    body()
    initializing = saved
  }

  const locals: Array<Binding> = []
  const declare = (name: string, target: Scope, node: Node, how: Declared, into?: Array<Binding>) => {
    const known = target.bindings.get(name)
    if (known !== undefined) return void into?.push(known)
    // A `const` without an initializer is a for-in/of variable: a new value every iteration.
    const dynamic = how.kind === "param" || how.kind === "let" || how.kind === "var" || how.init === undefined
    const binding: Binding = { ...how, name, start: node.start, ...at(node.start), depends: new Set(), isStatic: !dynamic }
    target.bindings.set(name, binding)
    if (!target.isModule) locals.push(binding)
    into?.push(binding)
  }

  const reference = (id: Node, member?: string, bareNew = false, service?: "demand" | "provide") => {
    references.push({ name: id.name as string, member, scope, start: id.start, fn, unit, bareNew, initializing, service })
  }

  const withScope = (next: Scope, body: () => void) => {
    const saved = scope
    scope = next
    body()
    scope = saved
  }

  /** Declares the names a binding pattern introduces, walking its default values and computed keys. */
  const declarePattern = (pattern: Node, target: Scope, how: Declared, into?: Array<Binding>): void => {
    const node = unwrap(pattern)
    switch (node.type) {
      case "Identifier":
        return declare(node.name as string, target, node, how, into)
      case "ObjectPattern":
        for (const property of node.properties as Array<Node>) {
          if (property.type === "RestElement") declarePattern(property.argument as Node, target, how, into)
          else {
            if (property.computed === true) walk(property.key as Node)
            declarePattern(property.value as Node, target, how, into)
          }
        }
        return
      case "ArrayPattern":
        for (const element of node.elements as Array<Node | null>) if (element !== null) declarePattern(element, target, how, into)
        return
      case "RestElement":
        return declarePattern(node.argument as Node, target, how, into)
      case "AssignmentPattern": {
        // A default value is part of what gives the name its value.
        const declared: Array<Binding> = []
        declarePattern(node.left as Node, target, how, declared)
        into?.push(...declared)
        return initializingThem(declared, () => walk(node.right as Node))
      }
      case "TSParameterProperty":
        return declarePattern(node.parameter as Node, target, how, into)
      default:
        return walk(node)
    }
  }

  /** An assignment target: its names are references (writes), not declarations. */
  const assignPattern = (pattern: Node): void => {
    const node = unwrap(pattern)
    switch (node.type) {
      case "Identifier":
        return reference(node)
      case "ObjectPattern":
        for (const property of node.properties as Array<Node>) {
          if (property.type === "RestElement") assignPattern(property.argument as Node)
          else {
            if (property.computed === true) walk(property.key as Node)
            assignPattern(property.value as Node)
          }
        }
        return
      case "ArrayPattern":
        for (const element of node.elements as Array<Node | null>) if (element !== null) assignPattern(element)
        return
      case "RestElement":
        return assignPattern(node.argument as Node)
      case "AssignmentPattern":
        assignPattern(node.left as Node)
        return walk(node.right as Node)
      default:
        return walk(node)
    }
  }

  const walkFunction = (node: Node, span: { readonly start: number; readonly end: number }) => {
    const outer = scope
    // A named function expression sees its own name.
    const named = node.type === "FunctionExpression" && isNode(node.id) ? newScope(outer, false) : outer
    const self: Array<Binding> = []
    if (named !== outer) declare((node.id as Node).name as string, named, node.id as Node, { kind: "function", init: node }, self)
    if (node.type === "FunctionDeclaration" && isNode(node.id)) {
      const own = outer.bindings.get(node.id.name as string)
      if (own !== undefined) self.push(own)
    }
    const inner = newScope(named, true)
    const record: FunctionRecord = {
      node,
      call: enclosingCall(node),
      statics: new Set(),
      start: span.start,
      end: span.end,
      scope: inner,
      parent: fn,
      unit,
      captured: new Map()
    }
    functions.push(record)
    const savedFn = fn
    fn = record
    initializingThem(self, () =>
      withScope(inner, () => {
        for (const param of node.params as Array<Node>) if (!isTypeOnly(param)) declarePattern(param, inner, PARAM)
        const body = node.body as Node | null
        if (body === null) return
        if (body.type === "BlockStatement") for (const statement of body.body as Array<Node>) walk(statement)
        else walk(body)
      }))
    fn = savedFn
  }

  const walkClass = (node: Node) => {
    for (const decorator of (node.decorators as Array<Node> | undefined) ?? []) walk(decorator)
    if (isNode(node.superClass)) walk(node.superClass)
    // A class expression's name is visible inside it only.
    const inner = newScope(scope, false)
    const self: Array<Binding> = []
    if (node.type === "ClassExpression" && isNode(node.id)) declare(node.id.name as string, inner, node.id, { kind: "class", init: node }, self)
    if (node.type === "ClassDeclaration" && isNode(node.id)) {
      const own = scope.bindings.get(node.id.name as string)
      if (own !== undefined) self.push(own)
    }
    initializingThem(self, () => withScope(inner, () => walk(node.body as Node)))
  }

  const walkChildren = (node: Node) => {
    for (const key of visitorKeys[node.type] ?? []) {
      if (TYPE_KEYS.has(key)) continue
      const child = node[key]
      if (Array.isArray(child)) {
        for (const item of child) if (isNode(item)) walk(item)
      } else if (isNode(child)) walk(child)
    }
  }

  /** The nodes being walked, outermost first. */
  const ancestors: Array<Node> = []

  /** The call `fn` is an argument of, directly or inside object and array literals (`Step.make({ run })`). */
  const enclosingCall = (fn: Node): Node | undefined => {
    let child = fn
    for (let i = ancestors.length - 1; i >= 0; i--) {
      const node = ancestors[i]!
      if (node === child) continue
      switch (node.type) {
        case "Property":
        case "ObjectExpression":
        case "ArrayExpression":
        case "SpreadElement":
        case "TSAsExpression":
        case "TSSatisfiesExpression":
          child = node
          continue
        case "CallExpression":
        case "NewExpression":
          return (node.arguments as Array<Node>).includes(child) ? node : undefined
        default:
          return undefined
      }
    }
    return undefined
  }

  const walk = (node: Node): void => {
    if (isTypeOnly(node)) {
      // Erased at run time, except the operand of a type assertion.
      return
    }
    ancestors.push(node)
    walkNode(node)
    ancestors.pop()
  }

  const walkNode = (node: Node): void => {
    switch (node.type) {
      case "TSAsExpression":
      case "TSSatisfiesExpression":
      case "TSNonNullExpression":
      case "TSTypeAssertion":
      case "TSInstantiationExpression":
      case "ParenthesizedExpression":
        return walk(node.expression as Node)
      case "Identifier":
        return reference(node)
      case "YieldExpression": {
        // `yield* Db`: the body asks for the service `Db`.
        const argument = isNode(node.argument) ? unwrap(node.argument) : undefined
        if (node.delegate === true && argument?.type === "Identifier") return reference(argument, undefined, false, "demand")
        return walkChildren(node)
      }
      case "CallExpression": {
        // `Layer.effect(Db, ...)`, `Effect.provideService(Db, ...)`: code providing the service `Db`.
        const callee = unwrap(node.callee as Node)
        const first = (node.arguments as Array<Node>)[0]
        const target = first === undefined ? undefined : unwrap(first)
        if (target?.type === "Identifier" && callee.type === "MemberExpression" && callee.computed !== true && isNode(callee.property)) {
          const owner = unwrap(callee.object as Node)
          const method = (callee.property as Node).name as string
          if ((owner.type === "Identifier" && owner.name === "Layer") || method === "provideService" || method === "provideServiceEffect") {
            walk(node.callee as Node)
            reference(target, undefined, false, "provide")
            for (const argument of (node.arguments as Array<Node>).slice(1)) walk(argument)
            return
          }
        }
        return walkChildren(node)
      }
      case "MemberExpression": {
        const object = unwrap(node.object as Node)
        if (object.type === "Identifier" && node.computed !== true && isNode(node.property)) {
          const member = (node.property as Node).name as string
          // `Db.use(...)` asks for the service; `Db.layer`, `Db.layerTest(...)` are its layers.
          const service = member === "use" || member === "useSync" ? "demand" : /^layer/.test(member) ? "provide" : undefined
          reference(object, member, false, service)
        } else walk(object)
        if (node.computed === true) walk(node.property as Node)
        return
      }
      case "NewExpression": {
        const callee = unwrap(node.callee as Node)
        if (callee.type === "Identifier") reference(callee, undefined, (node.arguments as Array<Node>).length === 0)
        else walk(callee)
        for (const argument of node.arguments as Array<Node>) walk(argument)
        return
      }
      case "Property":
      case "PropertyDefinition":
      case "AccessorProperty":
      case "MethodDefinition": {
        for (const decorator of (node.decorators as Array<Node> | undefined) ?? []) walk(decorator)
        if (node.computed === true) walk(node.key as Node)
        const value = node.value as Node | null
        if (value === null) return
        // A method prints from its name: `run(x) { ... }`.
        if (isFunctionNode(value) && (node.type === "MethodDefinition" || node.method === true || node.kind === "get" || node.kind === "set")) {
          return walkFunction(value, { start: node.start, end: node.end })
        }
        return walk(value)
      }
      case "LabeledStatement":
        return walk(node.body as Node)
      case "BreakStatement":
      case "ContinueStatement":
      case "MetaProperty":
      case "ThisExpression":
      case "Super":
      case "PrivateIdentifier":
      case "Literal":
      case "TemplateElement":
        return
      case "FunctionDeclaration":
        // Block-scoped in modules (strict mode); hoisted within its block.
        if (isNode(node.id)) declare(node.id.name as string, scope, node.id, { kind: "function", init: node })
        return walkFunction(node, node)
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        return walkFunction(node, node)
      case "ClassDeclaration":
        if (isNode(node.id)) declare(node.id.name as string, scope, node.id, { kind: "class", init: node })
        return walkClass(node)
      case "ClassExpression":
        return walkClass(node)
      case "VariableDeclaration": {
        const target = node.kind === "var" ? scope.hoist : scope
        for (const declarator of node.declarations as Array<Node>) {
          const init = isNode(declarator.init) ? declarator.init : undefined
          const declared: Array<Binding> = []
          declarePattern(declarator.id as Node, target, { kind: node.kind as Declared["kind"], init }, declared)
          if (init !== undefined) initializingThem(declared, () => walk(init))
        }
        return
      }
      case "BlockStatement":
      case "StaticBlock":
        return withScope(newScope(scope, node.type === "StaticBlock"), () => {
          for (const statement of node.body as Array<Node>) walk(statement)
        })
      case "ForStatement":
      case "ForInStatement":
      case "ForOfStatement":
        return withScope(newScope(scope, false), () => {
          const left = (node.type === "ForStatement" ? node.init : node.left) as Node | null | undefined
          if (isNode(left)) {
            // `for (x of xs)` assigns to x; `for (const x of xs)` and `for (i = 0; ...)` are walked as written.
            if (left.type !== "VariableDeclaration" && node.type !== "ForStatement") assignPattern(left)
            else walk(left)
          }
          for (const key of ["test", "update", "right", "body"]) if (isNode(node[key])) walk(node[key])
        })
      case "SwitchStatement":
        walk(node.discriminant as Node)
        return withScope(newScope(scope, false), () => {
          for (const clause of node.cases as Array<Node>) walkChildren(clause)
        })
      case "CatchClause":
        return withScope(newScope(scope, false), () => {
          if (isNode(node.param)) declarePattern(node.param, scope, PARAM)
          for (const statement of (node.body as Node).body as Array<Node>) walk(statement)
        })
      case "AssignmentExpression":
        assignPattern(node.left as Node)
        return walk(node.right as Node)
      case "ImportExpression": {
        const source = unwrap(node.source as Node)
        if (source.type === "Literal" && typeof source.value === "string") {
          specifiers.add(source.value)
          dynamicImports.push({ spec: source.value, unit })
        } else walk(source)
        return
      }
      case "TSEnumDeclaration":
        declare((node.id as Node).name as string, scope, node.id as Node, { kind: "const", init: node })
        return walk(node.body as Node)
      case "TSEnumMember":
        if (isNode(node.initializer)) walk(node.initializer)
        return
      case "TSModuleDeclaration":
      case "TSImportEqualsDeclaration":
      case "TSExportAssignment":
        return
      default:
        return walkChildren(node)
    }
  }

  /** The `name: "..."` of a `Step.make({ ... })` call. */
  const titleOf = (declarator: Node): string | undefined => {
    let call = isNode(declarator.init) ? unwrap(declarator.init) : undefined
    while (call?.type === "CallExpression" && (call.arguments as Array<Node>).length === 1 && unwrap((call.arguments as Array<Node>)[0]!).type !== "ObjectExpression" && isNode(call.callee) && call.callee.type === "MemberExpression") {
      call = unwrap(call.callee.object as Node)
    }
    if (call?.type !== "CallExpression") return undefined
    for (const argument of call.arguments as Array<Node>) {
      const object = unwrap(argument)
      if (object.type !== "ObjectExpression") continue
      for (const property of object.properties as Array<Node>) {
        const key = property.key as Node | undefined
        const value = isNode(property.value) ? unwrap(property.value) : undefined
        if (property.type === "Property" && key?.type === "Identifier" && key.name === "name" && value?.type === "Literal" && typeof value.value === "string") {
          return value.value
        }
      }
    }
    return undefined
  }

  const unitKind = (declaration: Node, declarator?: Node): UnitKind => {
    if (declaration.type === "FunctionDeclaration") return "helper"
    if (declaration.type === "ClassDeclaration") return "class"
    if (declaration.type === "TSEnumDeclaration") return "enum"
    if (declarator === undefined) return "statement"
    const init = isNode(declarator.init) ? unwrap(declarator.init) : undefined
    if (init !== undefined && (init.type === "ArrowFunctionExpression" || init.type === "FunctionExpression")) return "helper"
    if (init?.type === "ClassExpression") return "class"
    // `Step.make(...)` / `Process.make(...)`, possibly piped.
    let call = init
    while (call?.type === "CallExpression" && isNode(call.callee) && call.callee.type === "MemberExpression" && (call.callee.property as Node).name === "pipe") {
      call = unwrap(call.callee.object as Node)
    }
    if (call?.type === "CallExpression") {
      const callee = unwrap(call.callee as Node)
      if (callee.type === "MemberExpression" && isNode(callee.object) && callee.object.type === "Identifier") {
        const owner = callee.object.name
        if (owner === "Step") return "step"
        if (owner === "Process") return "process"
      }
    }
    return declaration.kind === "const" ? "constant" : "variable"
  }

  const namesOf = (pattern: Node, into: Array<string> = []): Array<string> => {
    const node = unwrap(pattern)
    if (node.type === "Identifier") into.push(node.name as string)
    else if (node.type === "ObjectPattern") {
      for (const p of node.properties as Array<Node>) namesOf((p.type === "RestElement" ? p.argument : p.value) as Node, into)
    } else if (node.type === "ArrayPattern") {
      for (const e of node.elements as Array<Node | null>) if (e !== null) namesOf(e, into)
    } else if (node.type === "RestElement") namesOf(node.argument as Node, into)
    else if (node.type === "AssignmentPattern") namesOf(node.left as Node, into)
    return into
  }

  const addUnit = (kind: UnitKind, names: Array<string>, node: Node, body: () => void, title?: string) => {
    unit = units.length
    units.push({ kind, names, title, node, refs: new Set(), nondeterminism: [], external: [], service: serviceKey(node), demands: new Set(), provides: new Set() })
    body()
    unit = -1
  }

  /** A declaration at the top level: one unit per declarator, so `const a = 1, b = 2` are apart. */
  const topDeclaration = (declaration: Node) => {
    if (declaration.type === "VariableDeclaration") {
      for (const declarator of declaration.declarations as Array<Node>) {
        const names = namesOf(declarator.id as Node)
        const kind = unitKind(declaration, declarator)
        // Serialized with its declaration's kind: `let` and `const` differ.
        addUnit(kind, names, { ...declarator, kind: declaration.kind } as Node, () => {
          declarePattern(declarator.id as Node, module, { kind: declaration.kind as Declared["kind"] })
          if (isNode(declarator.init)) walk(declarator.init)
        }, kind === "step" || kind === "process" ? titleOf(declarator) : undefined)
      }
    } else if (isTypeOnly(declaration)) {
      return
    } else {
      const names = isNode(declaration.id) ? [declaration.id.name as string] : []
      addUnit(unitKind(declaration), names, declaration, () => walk(declaration))
    }
  }

  for (const statement of program.body as Array<Node>) {
    if (isTypeOnly(statement)) continue
    switch (statement.type) {
      case "ImportDeclaration": {
        const from = (statement.source as Node).value as string
        specifiers.add(from)
        for (const specifier of statement.specifiers as Array<Node>) {
          if (specifier.importKind === "type") continue
          const local = (specifier.local as Node).name as string
          const name = specifier.type === "ImportDefaultSpecifier"
            ? "default"
            : specifier.type === "ImportNamespaceSpecifier"
            ? "*"
            : String((specifier.imported as Node).name ?? (specifier.imported as Node).value)
          imports[local] = { from, name }
          declare(local, module, specifier, { kind: "import" })
        }
        break
      }
      case "ExportNamedDeclaration": {
        const from = isNode(statement.source) ? (statement.source.value as string) : undefined
        if (from !== undefined) specifiers.add(from)
        if (isNode(statement.declaration)) {
          const declaration = statement.declaration
          topDeclaration(declaration)
          const names = declaration.type === "VariableDeclaration"
            ? (declaration.declarations as Array<Node>).flatMap((d) => namesOf(d.id as Node))
            : isNode(declaration.id) && !isTypeOnly(declaration) ? [declaration.id.name as string] : []
          for (const name of names) exports[name] = { local: name }
        }
        for (const specifier of statement.specifiers as Array<Node>) {
          if (specifier.exportKind === "type") continue
          const exported = String((specifier.exported as Node).name ?? (specifier.exported as Node).value)
          const local = String((specifier.local as Node).name ?? (specifier.local as Node).value)
          exports[exported] = from !== undefined ? { from, name: local } : { local }
        }
        break
      }
      case "ExportDefaultDeclaration": {
        const declaration = statement.declaration as Node
        if ((declaration.type === "FunctionDeclaration" || declaration.type === "ClassDeclaration") && isNode(declaration.id)) {
          topDeclaration(declaration)
          exports.default = { local: declaration.id.name as string }
        } else {
          addUnit("default export", ["default"], declaration, () => {
            declare("default", module, declaration, { kind: "const" })
            walk(declaration)
          })
          exports.default = { local: "default" }
        }
        break
      }
      case "ExportAllDeclaration": {
        const from = (statement.source as Node).value as string
        specifiers.add(from)
        if (isNode(statement.exported)) {
          exports[String(statement.exported.name ?? statement.exported.value)] = { from, name: "*" }
        } else stars.push(from)
        break
      }
      case "FunctionDeclaration":
      case "ClassDeclaration":
      case "VariableDeclaration":
      case "TSEnumDeclaration":
        topDeclaration(statement)
        break
      default:
        addUnit("statement", [], statement, () => walk(statement))
    }
  }

  // Resolve every reference now that every binding, hoisted or not, is known.
  const localRefs: Array<{ readonly ref: Reference; readonly scope: Scope; readonly binding: Binding }> = []
  for (const ref of references) {
    let binding: Scope | undefined = ref.scope
    while (binding !== undefined && !binding.bindings.has(ref.name)) binding = binding.parent
    const owner = ref.unit >= 0 ? units[ref.unit] : undefined
    const position = () => at(ref.start)
    if (binding === undefined) {
      // A global: is it a call whose result differs from run to run, or a value from outside?
      if (owner === undefined) continue
      if (ref.member !== undefined && NONDETERMINISTIC[ref.name]?.has(ref.member)) {
        owner.nondeterminism.push({ what: `${ref.name}.${ref.member}()`, ...position() })
      } else if (ref.name === "Date" && ref.bareNew) {
        owner.nondeterminism.push({ what: "new Date()", ...position() })
      } else if (ref.fn === undefined && ref.name === "process" && ref.member === "env") {
        owner.external.push({ what: "an environment variable", ...position() })
      } else if (ref.fn === undefined && ref.name === "process" && ref.member === "argv") {
        owner.external.push({ what: "the command line", ...position() })
      } else if (ref.fn === undefined && ref.name === "fetch") {
        owner.external.push({ what: "a network request", ...position() })
      }
      continue
    }
    if (binding.isModule) {
      owner?.refs.add(ref.member !== undefined && imports[ref.name]?.name === "*" ? `${ref.name}.${ref.member}` : ref.name)
      if (ref.service === "demand") owner?.demands.add(ref.name)
      else if (ref.service === "provide") owner?.provides.add(ref.name)
      const imported = imports[ref.name]
      if (imported !== undefined && owner !== undefined) {
        const member = imported.name === "*" ? ref.member : imported.name
        if (member !== undefined && NONDETERMINISTIC_IMPORTS[imported.from]?.has(member)) {
          owner.nondeterminism.push({ what: `${member}() from ${imported.from}`, ...position() })
        }
        if (ref.fn === undefined && FILE_MODULES.has(imported.from)) {
          owner.external.push({ what: "a file read", ...position() })
        }
      }
      continue
    }
    const local = binding.bindings.get(ref.name)!
    localRefs.push({ ref, scope: binding, binding: local })
    // What gives a binding its value reads this one (unless this one is declared inside that code).
    for (let chain = ref.initializing; chain !== undefined; chain = chain.parent) {
      for (const reader of chain.bindings) {
        const inside = reader.init !== undefined && reader.init.start <= local.start && local.start < reader.init.end
        if (reader !== local && !inside) reader.depends.add(local)
      }
    }
  }
  // A local is static when all it reads is: settle that, then name the others each function reads.
  for (let changed = true; changed;) {
    changed = false
    for (const binding of locals) {
      if (binding.isStatic && [...binding.depends].some((d) => !d.isStatic)) {
        binding.isStatic = false
        changed = true
      }
    }
  }
  for (const { binding, ref, scope: declaredIn } of localRefs) {
    // Every function between the reference and that binding reads it from outside.
    for (let f = ref.fn; f !== undefined && declaredIn.depth < f.scope.depth; f = f.parent) {
      if (binding.isStatic) f.statics.add(binding)
      else if (!f.captured.has(ref.name)) f.captured.set(ref.name, { name: ref.name, ...at(ref.start) })
    }
  }
  const localDigests = new Map<Binding, string>()
  const localsOf = (f: FunctionRecord) => {
    const reached = new Set<Binding>()
    const visit = (b: Binding) => {
      if (reached.has(b) || !b.isStatic) return
      reached.add(b)
      for (const d of b.depends) visit(d)
    }
    for (const b of f.statics) visit(b)
    return [...reached].map((b) => {
      let known = localDigests.get(b)
      if (known === undefined) {
        known = b.init === undefined ? "" : digest(serialize(b.init))
        localDigests.set(b, known)
      }
      return { name: b.name, line: b.line, digest: known }
    }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.line - b.line))
  }
  for (const { spec, unit: index } of dynamicImports) if (index >= 0) units[index]!.refs.add(`import(${spec})`)

  const bindings: Record<string, number> = {}
  const statements: Record<string, Array<number>> = {}
  units.forEach((u, index) => {
    for (const name of u.names) bindings[name] = index
    if (u.kind === "statement") {
      for (const ref of u.refs) (statements[ref.split(".")[0]!] ??= []).push(index)
    }
  })

  return {
    format: ANALYSIS_FORMAT,
    units: units.map((u) => ({
      kind: u.kind,
      names: u.names,
      title: u.title,
      start: u.node.start,
      end: u.node.end,
      line: at(u.node.start).line,
      digest: digest(serialize(u.node)),
      call: isNode(u.node.init) && unwrap(u.node.init).type === "CallExpression" ? [u.node.init.start, u.node.init.end] as const : undefined,
      refs: [...u.refs].sort(),
      nondeterminism: u.nondeterminism,
      external: u.external,
      ...(u.service !== undefined ? { service: u.service } : {}),
      ...(u.demands.size > 0 ? { demands: [...u.demands].sort() } : {}),
      ...(u.provides.size > 0 ? { provides: [...u.provides].sort() } : {})
    })),
    bindings,
    statements,
    imports,
    exports,
    stars,
    specifiers: [...specifiers],
    functions: functions.map((f) => ({
      start: f.start,
      end: f.end,
      line: at(f.start).line,
      unit: f.unit,
      node: [f.node.start, f.node.end] as const,
      container: f.call !== undefined
        ? [f.call.start, f.call.end] as const
        : f.parent === undefined && f.unit >= 0
        ? [units[f.unit]!.node.start, units[f.unit]!.node.end] as const
        : undefined,
      locals: localsOf(f),
      captured: [...f.captured.values()]
    })),
    digests: {}
  }
}
