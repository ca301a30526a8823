import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { cli, repoRoot } from "./helpers.ts"

const COMMANDS = [
  [],
  ["run"],
  ["explain"],
  ["show"],
  ["cache"],
  ["cache", "stats"],
  ["cache", "ls"],
  ["cache", "verify"],
  ["cache", "prune"],
  ["cache", "clear"],
  ["runs"],
  ["runs", "ls"],
  ["runs", "show"],
  ["runs", "compare"],
  ["create"]
]

describe("expops --help", () => {
  it.live("every command has help with a usage line and examples", () =>
    Effect.gen(function*() {
      for (const command of COMMANDS) {
        const result = yield* cli([...command, "--help"])
        assert.strictEqual(result.status, 0, command.join(" "))
        assert.match(result.stdout, /USAGE/, command.join(" "))
        assert.match(result.stdout, /EXAMPLES\n  # .+\n  expops /, command.join(" "))
      }
    }))

  it.live("every global flag of --help is documented in docs/cli.md", () =>
    Effect.gen(function*() {
      const help = (yield* cli(["--help"])).stdout
      const section = help.slice(help.indexOf("GLOBAL FLAGS"), help.indexOf("SUBCOMMANDS"))
      const flags = [...section.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]!)
      assert.includeMembers(flags, ["--help", "--version", "--log-level", "--completions", "--wizard"])
      const docs = readFileSync(Path.join(repoRoot, "docs/cli.md"), "utf8")
      for (const flag of flags) assert.include(docs, `\`${flag}`, `${flag} is in docs/cli.md`)
    }))

  it.live("run --help lists every flag", () =>
    Effect.gen(function*() {
      const help = (yield* cli(["run", "--help"])).stdout
      for (const flag of ["--json", "--no-cache", "--seed", "--backend", "--concurrency", "--dry-run"]) assert.include(help, flag)
    }))

  it.live("an unknown command or flag is bad usage (exit 2), reported on stderr", () =>
    Effect.gen(function*() {
      const unknown = yield* cli(["frobnicate"])
      assert.strictEqual(unknown.status, 2)
      const flag = yield* cli(["run", ".", "--fast"])
      assert.strictEqual(flag.status, 2)
      assert.match(flag.stderr, /--fast/)
      assert.strictEqual(flag.stdout, "")
    }))

  it.live("--version prints the version", () =>
    Effect.gen(function*() {
      const result = yield* cli(["--version"])
      assert.strictEqual(result.status, 0)
      assert.match(result.stdout, /expops v\d+\.\d+\.\d+/)
    }))

  it.live("help is coloured only when stdout is a terminal and NO_COLOR is unset", () =>
    Effect.gen(function*() {
      assert.notMatch((yield* cli(["--help"], { env: { NO_COLOR: "" } })).stdout, /\x1b\[/)
      assert.notMatch((yield* cli(["--help"], { terminal: true })).stdout, /\x1b\[/)
      assert.match((yield* cli(["--help"], { terminal: true, env: { NO_COLOR: "" } })).stdout, /\x1b\[1m/)
    }))
})
