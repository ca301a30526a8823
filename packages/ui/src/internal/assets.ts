/**
 * The built front end (packages/ui/dist/web, made by scripts/build-web.ts
 * when the package is built), read once into memory. Served by name from a
 * fixed list: no path from a request ever reaches the file system.
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import { UiError } from "../UiError.ts"

/** `../../dist/web` from both src/internal (sources) and dist/internal (the build). */
const webDir = fileURLToPath(new URL("../../dist/web/", import.meta.url))

const files = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/app.css": { file: "app.css", type: "text/css; charset=utf-8" }
} as const

export interface Asset {
  readonly body: Uint8Array
  readonly type: string
}

/** The assets by URL path. Fails when the front end was not built. */
export const load = Effect.try({
  try: () => {
    const assets = new Map<string, Asset>()
    for (const [route, { file, type }] of Object.entries(files)) assets.set(route, { body: fs.readFileSync(`${webDir}${file}`), type })
    return assets as ReadonlyMap<string, Asset>
  },
  catch: (cause) =>
    new UiError({
      reason: `the web front end is not built (${webDir}): run \`npm run build\` in the repository (or reinstall @expops/ui)`,
      cause
    })
})
