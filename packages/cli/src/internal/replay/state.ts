/**
 * The state of a path as one string, for telling later whether it is as it
 * was (see `receipt.ts`). No `effect` import, nor any module but Node's
 * file functions: `watch.ts` uses it while the CLI starts.
 */
import { lstatSync, realpathSync, statSync } from "node:fs"

/**
 * How a path is compared: `read`, what a file holds (a folder: that it is
 * one); `listed`, what a folder holds; `link`, where its symbolic links lead.
 * Each is also whether the path exists.
 */
export type Kind = "read" | "listed" | "link"

const exists = (path: string): boolean => {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/**
 * The state of `path` for `kind`. A file is its size, mtime, ctime, inode
 * and device (an edit that put back the old mtime still moves the ctime); a
 * listed folder likewise (its mtime moves when an entry is added or
 * removed); a folder that was only probed is `dir`, since what else it holds
 * does not matter and folders such as `/tmp` change all the time; a link is
 * `->` the real path it leads to. An absent path is `absent`, a dangling
 * link `broken`.
 */
export const stateOf = (path: string, kind: Kind): string => {
  if (kind === "link") {
    try {
      return `-> ${realpathSync(path)}`
    } catch {
      return exists(path) ? "broken" : "absent"
    }
  }
  let s
  try {
    s = statSync(path, { bigint: true })
  } catch {
    return exists(path) ? "broken" : "absent"
  }
  if (s.isDirectory() && kind === "read") return "dir"
  return `${s.isDirectory() ? "dir" : "file"}:${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}:${s.dev}`
}

/** A path's state with its kind in front (`read file:…`, `listed dir:…`, `link -> …`): what a receipt keeps. */
export const recorded = (path: string, kind: Kind): string => `${kind} ${stateOf(path, kind)}`

/** Whether a path is as `recorded` found it. */
export const unchanged = (path: string, state: string): boolean => {
  const space = state.indexOf(" ")
  return stateOf(path, state.slice(0, space) as Kind) === state.slice(space + 1)
}
