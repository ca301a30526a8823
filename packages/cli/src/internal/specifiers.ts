/**
 * What an import specifier names, for the executable's resolver hooks
 * (`internal/packages.ts`, `internal/moduleMemo.ts`). No `effect` import
 * here: these run before `effect` loads.
 */

/** `@scope/name/sub` -> `@scope/name`; `name/sub` -> `name`. */
export const packageName = (specifier: string): string => {
  const parts = specifier.split("/")
  return specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
}

/** A package name (`effect/Effect`), not a path (`./x.js`, `/x.js`), an import map entry (`#x`) or a URL (`node:fs`). */
export const isBare = (specifier: string): boolean =>
  !(specifier[0] === "." || specifier[0] === "/" || specifier[0] === "#" || /^[a-z][a-z0-9+.-]*:/i.test(specifier))
