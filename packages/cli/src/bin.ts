#!/usr/bin/env node
/**
 * The `expops` executable.
 *
 * Start-up is mostly loading modules, so this file imports as little as it
 * can before it knows what is asked: `--version` is answered without loading
 * the CLI, and everything else imports only the modules it needs (no
 * `effect` barrel; commands load their handlers when they run).
 *
 * @since 0.1.0
 */
import { enableCompileCache } from "node:module"

// Reuse V8's compiled code across invocations: start-up is mostly loading modules.
enableCompileCache?.()

// `expops runs ls DIR | head` closes the pipe early: that is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
  throw error
})

const args = process.argv.slice(2)
const Version = await import("./internal/version.ts")

if (Version.isVersionOnly(args)) {
  process.stdout.write(`${Version.line("expops", Version.read(), Version.canColor(process.env, process.stdout.isTTY === true))}\n`)
} else {
  const [NodeRuntime, Exit, Runtime, { main }] = await Promise.all([
    import("@effect/platform-node/NodeRuntime"),
    import("effect/Exit"),
    import("effect/Runtime"),
    import("./Cli.ts")
  ])
  NodeRuntime.runMain(main(args), {
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      if (!Exit.isSuccess(exit)) return Runtime.defaultTeardown(exit, onExit)
      const code = exit.value as number
      // Let stdout drain instead of exiting at once; stop anyway if something
      // the pipeline opened keeps the event loop alive.
      process.exitCode = code
      setTimeout(() => process.exit(code), 2000).unref()
    }
  })
}
