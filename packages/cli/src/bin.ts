#!/usr/bin/env node
/**
 * The `expops` executable.
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

const NodeRuntime = await import("@effect/platform-node/NodeRuntime")
const { Exit, Runtime } = await import("effect")
const { main } = await import("./Cli.ts")

NodeRuntime.runMain(main(process.argv.slice(2)), {
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
