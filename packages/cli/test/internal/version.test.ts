import { assert, describe, it } from "@effect/vitest"
import { Cli } from "@expops/cli"
import { ConfigProvider, Effect, Layer, Stdio } from "effect"
import { CliOutput, TerminalCapabilities } from "effect/cli"
import * as Version from "../../src/internal/version.ts"
import { cli } from "../helpers.ts"

/** What effect/cli decides about colour for this environment and standard output. */
const effectCanColor = (env: Record<string, string>, stdoutIsTerminal: boolean) =>
  Effect.map(TerminalCapabilities.TerminalCapabilities, (caps) => caps.canColor).pipe(
    Effect.provide(TerminalCapabilities.layer),
    Effect.provide(Layer.merge(
      Stdio.layerTest({ stdoutIsTerminal: Effect.succeed(stdoutIsTerminal) }),
      ConfigProvider.layer(ConfigProvider.fromEnv({ env }))
    ))
  )

describe("the version line the executable prints without loading the CLI", () => {
  it("is effect/cli's line, with and without colours", () => {
    for (const colors of [false, true]) {
      assert.strictEqual(
        Version.line("expops", Cli.version, colors),
        CliOutput.defaultFormatter({ colors }).formatVersion("expops", Cli.version)
      )
    }
  })

  it.effect("takes colours when effect/cli would", () =>
    Effect.gen(function*() {
      const envs: Array<Record<string, string>> = [
        {},
        { NO_COLOR: "1" },
        { NO_COLOR: "" },
        { FORCE_COLOR: "1" },
        { FORCE_COLOR: "0" },
        { FORCE_COLOR: "false" },
        { FORCE_COLOR: "FALSE" },
        { FORCE_COLOR: "" },
        { NO_COLOR: "1", FORCE_COLOR: "1" },
        { TERM: "dumb" },
        { TERM: "dumb", FORCE_COLOR: "1" },
        { TERM: "xterm-256color" }
      ]
      for (const env of envs) {
        for (const terminal of [false, true]) {
          assert.strictEqual(Version.canColor(env, terminal), yield* effectCanColor(env, terminal), `${JSON.stringify(env)} terminal=${terminal}`)
        }
      }
    }))

  it.live("is what `expops --version` prints in-process, through effect/cli; only --version and -v alone take the shortcut", () =>
    Effect.gen(function*() {
      for (const flag of ["--version", "-v"]) {
        const result = yield* cli([flag])
        assert.strictEqual(result.status, 0)
        assert.strictEqual(result.stdout, `${Version.line("expops", Version.read(), false)}\n`)
        assert.isTrue(Version.isVersionOnly([flag]))
      }
      assert.strictEqual(Version.read(), Cli.version)
      for (const args of [[], ["--help"], ["run", "--version"], ["--version", "--help"], ["--versions"]]) {
        assert.isFalse(Version.isVersionOnly(args), args.join(" "))
      }
    }))
})
