/**
 * The directory a command was given in: the project folder on the command
 * line resolves against it, `create` makes its folder in it, and file names
 * in messages are shown relative to it.
 *
 * A service rather than `process.cwd()`: `expops run` moves the process into
 * the project folder while the pipeline runs (user code reads its files
 * relative to it), and one process may run many commands from different
 * directories (the tests run the CLI in-process).
 *
 * @since 0.1.0
 */
import * as Path from "node:path"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

/**
 * @since 0.1.0
 */
export interface Shape {
  /** Absolute. */
  readonly path: string
}

/**
 * @since 0.1.0
 */
export class WorkingDirectory extends Context.Service<WorkingDirectory, Shape>()("expops/cli/WorkingDirectory") {}

/**
 * The process's working directory when the layer is built (when the command starts).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<WorkingDirectory> = Layer.sync(WorkingDirectory, () => ({ path: process.cwd() }))

/**
 * A given directory, resolved against the process's working directory.
 *
 * @since 0.1.0
 */
export const layerAt = (path: string): Layer.Layer<WorkingDirectory> =>
  Layer.sync(WorkingDirectory, () => ({ path: Path.resolve(path) }))
