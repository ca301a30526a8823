import { assert, describe, it } from "@effect/vitest"
import { cli } from "./helpers.ts"

const COMMANDS = [
  [],
  ["run"],
  ["explain"],
  ["cache"],
  ["cache", "stats"],
  ["cache", "ls"],
  ["cache", "verify"],
  ["cache", "prune"],
  ["cache", "clear"],
  ["runs"],
  ["runs", "ls"],
  ["runs", "show"],
  ["create"]
]

describe("expops --help", () => {
  it("every command has help with a usage line and examples", () => {
    for (const command of COMMANDS) {
      const result = cli([...command, "--help"])
      assert.strictEqual(result.status, 0, command.join(" "))
      assert.match(result.stdout, /USAGE/, command.join(" "))
      assert.match(result.stdout, /EXAMPLES\n  # .+\n  expops /, command.join(" "))
    }
  })

  it("run --help lists every flag", () => {
    const help = cli(["run", "--help"]).stdout
    for (const flag of ["--json", "--no-cache", "--seed", "--backend", "--concurrency", "--dry-run"]) assert.include(help, flag)
  })

  it("an unknown command or flag is bad usage (exit 2), reported on stderr", () => {
    const unknown = cli(["frobnicate"])
    assert.strictEqual(unknown.status, 2)
    const flag = cli(["run", ".", "--fast"])
    assert.strictEqual(flag.status, 2)
    assert.match(flag.stderr, /--fast/)
    assert.strictEqual(flag.stdout, "")
  })

  it("--version prints the version", () => {
    const result = cli(["--version"])
    assert.strictEqual(result.status, 0)
    assert.match(result.stdout, /expops v\d+\.\d+\.\d+/)
  })
})
