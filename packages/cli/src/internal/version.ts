/**
 * `expops --version` without loading the CLI: the executable answers it
 * before importing anything else (loading the commands, effect/cli and the
 * backends takes several times as long as starting Node). The text is the
 * one effect/cli prints for its built-in `--version` flag, with the same
 * colours in the same conditions (`CliOutput.defaultFormatter`,
 * `TerminalCapabilities`); test/internal/version.test.ts holds them to it.
 */
import { readFileSync } from "node:fs"

/** The version of `@expops/cli`, from its package.json. */
export const read = (): string => {
  try {
    return JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version
  } catch {
    return "0.0.0"
  }
}

/** Arguments that ask for the version and nothing else, as effect/cli's `--version / -v` flag reads them. */
export const isVersionOnly = (args: ReadonlyArray<string>): boolean =>
  args.length === 1 && (args[0] === "--version" || args[0] === "-v")

const isPresent = (value: string | undefined): value is string => value !== undefined && value.length > 0

/**
 * Whether standard output takes colours, decided as `TerminalCapabilities`
 * decides it: never on a dumb terminal; `NO_COLOR` (non-empty) wins over
 * `FORCE_COLOR`, which forces colour off a terminal unless it is `0` or `false`.
 */
export const canColor = (env: Readonly<Record<string, string | undefined>>, stdoutIsTerminal: boolean): boolean => {
  if (env.TERM === "dumb") return false
  const force = env.FORCE_COLOR
  return !isPresent(env.NO_COLOR) && ((isPresent(force) && force !== "0" && force.toLowerCase() !== "false") || stdoutIsTerminal)
}

/** The version line, as `CliOutput.defaultFormatter({ colors }).formatVersion(name, version)` writes it. */
export const line = (name: string, version: string, colors: boolean): string => {
  const bold = (text: string) => (colors ? `\x1b[1m${text}\x1b[0m` : text)
  const dim = (text: string) => (colors ? `\x1b[2m${text}\x1b[0m` : text)
  return `${bold(name)} ${dim("v")}${bold(version)}`
}
