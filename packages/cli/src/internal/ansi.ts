/** Colours and cursor control codes (whether a stream may show them: `output.ts`). */

export interface Paint {
  readonly green: (s: string) => string
  readonly red: (s: string) => string
  readonly yellow: (s: string) => string
  readonly cyan: (s: string) => string
  readonly dim: (s: string) => string
  readonly bold: (s: string) => string
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`
const plain = (s: string) => s

export const paint = (enabled: boolean): Paint =>
  enabled
    ? { green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), cyan: wrap(36, 39), dim: wrap(2, 22), bold: wrap(1, 22) }
    : { green: plain, red: plain, yellow: plain, cyan: plain, dim: plain, bold: plain }

/** What a stream can show (see `output.ts`). */
export interface Capabilities {
  /** Colours: a terminal, NO_COLOR unset or empty (https://no-color.org), TERM not dumb. */
  readonly color: boolean
  /** Redrawing lines in place: a terminal, TERM not dumb. */
  readonly live: boolean
}

export const capabilities = (isTerminal: boolean, env: { readonly NO_COLOR?: string | undefined; readonly TERM?: string | undefined }): Capabilities => {
  const dumb = env.TERM === "dumb"
  return { color: isTerminal && (env.NO_COLOR ?? "") === "" && !dumb, live: isTerminal && !dumb }
}

export const cursorUp = (n: number): string => (n > 0 ? `\x1b[${n}A` : "")
export const clearLine = "\r\x1b[2K"
export const hideCursor = "\x1b[?25l"
export const showCursor = "\x1b[?25h"
