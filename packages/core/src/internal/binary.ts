/**
 * The built-in binary types a value can be stored and hashed as. A subclass
 * (Node's `Buffer` is a `Uint8Array`) is stored and hashed as its built-in
 * base: the stored form must name a type the reader can construct, and the
 * same bytes should give the same key whichever class holds them.
 */
type ViewConstructor = { new(buffer: ArrayBufferLike, byteOffset?: number, length?: number): ArrayBufferView; readonly BYTES_PER_ELEMENT?: number }

const globals = globalThis as unknown as Record<string, ViewConstructor | undefined>

export const VIEW_TYPES: ReadonlyMap<string, ViewConstructor> = new Map(
  [
    "Uint8Array",
    "Int8Array",
    "Uint8ClampedArray",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "Float16Array", // where the runtime has it
    "Float32Array",
    "Float64Array",
    "BigInt64Array",
    "BigUint64Array",
    "DataView"
  ].flatMap((name) => (globals[name] === undefined ? [] : [[name, globals[name]!] as const]))
)

const BUILT_IN = new Set<unknown>(VIEW_TYPES.values())

/** The name of the built-in view type `view` is, or derives from. */
export const viewTypeName = (view: ArrayBufferView): string => {
  let proto: { constructor?: unknown } | null = Object.getPrototypeOf(view)
  while (proto !== null && !BUILT_IN.has(proto.constructor)) proto = Object.getPrototypeOf(proto)
  return proto === null ? view.constructor.name : (proto.constructor as { name: string }).name
}

/**
 * Sets an own, enumerable property, even one named `__proto__` (which plain
 * assignment would turn into a prototype change, losing the field).
 */
export const setOwn = (target: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__") Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}
