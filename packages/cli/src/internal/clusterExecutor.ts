/**
 * An executor process of a cluster runner (`expops worker` forks
 * `--concurrency` of them): loads the project as `expops run` does, then
 * runs the processes its runner hands it, one at a time, through the shared
 * cache. Its runner's event loop stays free for the cluster's locks and
 * messages.
 *
 * Arguments: the project folder and the backend name.
 */
const { enableCompileCache } = await import("node:module")
enableCompileCache?.()

const [dir = ".", backendName] = process.argv.slice(2)

// As the executable does for `expops run`: the project's own compatible copies of the shared packages.
const { adopt } = await import("./packages.ts")
const incompatible = adopt(["run", dir], process.cwd())
const { serve } = await import("@expops/cluster/ExecutorPool")

serve(async () => {
  if (incompatible !== undefined) throw Object.assign(new Error(incompatible), { usage: true })
  const [{ setup }, Effect, Exit, Cause] = await Promise.all([
    import("./clusterJob.ts"),
    import("effect/Effect"),
    import("effect/Exit"),
    import("effect/Cause")
  ])
  const exit = await Effect.runPromiseExit(setup(dir, backendName === "gcs" ? "gcs" : backendName === "local" ? "local" : undefined))
  if (Exit.isSuccess(exit)) return exit.value
  const error = Cause.squash(exit.cause)
  const { exitCode } = await import("../Errors.ts")
  throw Object.assign(new Error(error instanceof Error ? error.message : String(error)), { usage: exitCode(error) === 2 })
})

export {}
