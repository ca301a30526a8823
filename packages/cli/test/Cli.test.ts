import { assert, describe, it } from "@effect/vitest"
import { Cli } from "@expops/cli"
import { Effect } from "effect"
import { layerCapture } from "./helpers.ts"

/** Runs the CLI on `args` with the given command tree, capturing what it prints. */
const capture = (tree: typeof Cli.command, args: ReadonlyArray<string>) =>
  Effect.suspend(() => {
    const out = { stdout: [] as Array<string>, stderr: [] as Array<string> }
    return Cli.runWith(tree, args).pipe(
      Effect.provide(layerCapture(out)),
      Effect.map((status) => ({ status, stdout: out.stdout.join(""), stderr: out.stderr.join("") }))
    )
  })

describe("the command tree a command line loads", () => {
  it.live("gives the same help, usage errors and exit codes as the whole tree", () =>
    Effect.gen(function*() {
      const lines: Array<ReadonlyArray<string>> = [
        ["run", "--help"],
        ["run", "-h"],
        ["run"],
        ["run", "no/such/folder"],
        ["run", ".", "--fast"],
        ["run", ".", "--seed", "x"],
        ["run", "--version"],
        ["explain", "--help"],
        ["explain"],
        ["cache"],
        ["cache", "--help"],
        ["cache", "stats", "--help"],
        ["cache", "prune", "--max-size", "lots", "."],
        ["cache", "nope"],
        ["runs"],
        ["runs", "ls", "--help"],
        ["runs", "show", "no/such/folder"],
        ["create", "--help"],
        ["create"]
      ]
      for (const args of lines) {
        const lazy = yield* capture(Cli.commandFor(args), args)
        const whole = yield* capture(Cli.command, args)
        assert.deepStrictEqual(lazy, whole, args.join(" "))
      }
      // A command line that names no subcommand first gets the whole tree.
      for (const args of [[], ["--help"], ["rn", "."], ["--log-level", "debug", "run", "--help"]]) {
        assert.strictEqual(Cli.commandFor(args), Cli.command, args.join(" "))
      }
    }))
})
