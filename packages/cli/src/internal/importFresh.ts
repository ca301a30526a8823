/**
 * Imports a project's pipeline module so that every load sees the code as it
 * is on disk now, as a new process would, even when this process has loaded
 * the project before (the tests run the CLI many times in one process; so
 * will a long-lived server).
 *
 * ESM caches modules by URL for the life of the process. The first import of
 * an entry module is a plain one, so a one-shot `expops run` loads its code
 * exactly as Node does. Each later import of the same entry adds a generation
 * to its URL (`?expops-generation=N`), and a resolve hook passes that
 * generation on to every module it imports from inside the project folder
 * (outside `node_modules`): edited files are read again, packages stay shared.
 * Old generations stay in memory; a process reloads a project only a few
 * times.
 */
import { registerHooks } from "node:module"
import { pathToFileURL } from "node:url"

const PARAM = "expops-generation"

/** Entry URLs imported at least once. */
const imported = new Set<string>()
/** Generation -> URL of its project folder, ending in `/`. */
const roots = new Map<string, string>()
let generation = 0
let hooked = false

const hook = () =>
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context)
      const parent = context.parentURL
      if (parent === undefined || !parent.includes(PARAM)) return resolved
      const current = new URL(parent).searchParams.get(PARAM)
      const root = current === null ? undefined : roots.get(current)
      if (root === undefined || !resolved.url.startsWith(root) || resolved.url.slice(root.length).includes("node_modules/")) {
        return resolved
      }
      const url = new URL(resolved.url)
      url.searchParams.set(PARAM, current!)
      return { ...resolved, url: url.href }
    }
  })

export const importFresh = (file: string, root: string): Promise<Record<string, unknown>> => {
  const url = pathToFileURL(file).href
  if (!imported.has(url)) {
    imported.add(url)
    return import(url)
  }
  if (!hooked) {
    hook()
    hooked = true
  }
  generation++
  roots.set(String(generation), `${pathToFileURL(root).href.replace(/\/$/, "")}/`)
  return import(`${url}?${PARAM}=${generation}`)
}
