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

// Checked before anything is imported: under an older Node the imports fail
// with a SyntaxError that says nothing about what to do.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `error: expops needs Node 22.19 or newer (Node 24 recommended); this is Node ${process.versions.node} (${process.execPath}).\n` +
      "From the ExpOps checkout, run it as `npx expops ...`: npm ci there installs the Node 24 it pins, which npx and\n" +
      "npm scripts put first on the PATH. Elsewhere, install Node 24 (or add the npm package `node` as a dev dependency,\n" +
      "as the checkout does, and run `npx expops ...`).\n"
  )
  process.exit(2)
}

const { enableCompileCache, getCompileCacheDir } = await import("node:module")
const Path = await import("node:path")
// Reuse V8's compiled code across invocations: start-up is mostly loading modules.
enableCompileCache?.()

// `expops runs ls DIR | head` closes the pipe early: that is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
  throw error
})

const args = process.argv.slice(2)

const Version = await import("./internal/version.ts")

// A cached `expops run` whose inputs are all as they were is answered from its receipt, before the CLI loads.
const Replay = args[0] === "run" ? await import("./internal/replay/replay.ts") : undefined
const replayed = Replay?.attempt(args, process.cwd(), process.env)
if (replayed !== undefined && process.env.EXPOPS_REPLAY === "explain") {
  process.stderr.write(replayed._tag === "Replayed" ? "replay: answered from the receipt of the last run\n" : `replay: not used: ${replayed.reason}\n`)
}

if (Version.isVersionOnly(args)) {
  process.stdout.write(`${Version.line("expops", Version.read(), Version.canColor(process.env, process.stdout.isTTY === true))}\n`)
} else if (replayed?._tag === "Replayed") {
  process.exitCode = replayed.exitCode
} else {
  // What a run the replay could answer next time looks at on disk from here on, for its receipt
  // (internal/replay); the project's `.expops` folder and the compile cache are the CLI's own state, not inputs.
  const project = Replay?.projectDir(args, process.cwd())
  const Watch = project === undefined ? undefined : await import("./internal/replay/watch.ts")
  const compileCache = getCompileCacheDir?.()
  Watch?.install({ ignore: [Path.join(project!, ".expops"), ...(compileCache ? [Path.dirname(compileCache)] : [])] })
  // Node's answers about where modules are, kept from the last start-up
  // (internal/moduleMemo.ts); hooked first, so that it answers what the hooks
  // of internal/packages.ts ask for.
  const ModuleMemo = await import("./internal/moduleMemo.ts")
  // Its check of every package.json it keeps answers for (other projects' too) is not an input of this run;
  // the answers this run uses are (the watch notes each resolution).
  if (Watch === undefined) ModuleMemo.install()
  else Watch.unwatched(() => ModuleMemo.install())
  // Before `effect` loads: a project with its own compatible copies of the
  // shared packages runs on those, and so does the CLI (one instance of each).
  const { adopt } = await import("./internal/packages.ts")
  const incompatible = adopt(args, process.cwd())
  if (incompatible !== undefined) {
    process.stderr.write(`error: ${incompatible}\n`)
    process.exit(2)
  }
  // Hooked last, so that it sees what the other hooks answer; the modules loaded before it are noted by name.
  Watch?.hookResolution()
  Watch?.noteModules(import.meta.url, ["./internal/version", "./internal/moduleMemo", "./internal/packages", "./internal/replay/replay"])
  // The first Ctrl-C (or SIGTERM) interrupts the command, which then records
  // what it did; a second one exits at once.
  let signals = 0
  const onSignal = () => {
    if (++signals > 1) process.exit(130)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)

  // effect/cli's help-text segmenter is made when help is printed, not at every start-up (see the module).
  const { whileLoading } = await import("./internal/deferredSegmenter.ts")
  const [NodeRuntime, Exit, Runtime, { main }] = await whileLoading(() =>
    Promise.all([
      import("@effect/platform-node/NodeRuntime"),
      import("effect/Exit"),
      import("effect/Runtime"),
      import("./Cli.ts")
    ])
  )
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

export {}
