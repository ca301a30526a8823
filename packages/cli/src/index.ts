/**
 * @since 0.1.0
 */

/** The `expops` command and its entry point. */
export * as Cli from "./Cli.ts"

/** The directory a command was given in. */
export * as WorkingDirectory from "./WorkingDirectory.ts"

/** Project folders: config file, pipeline module, data file. */
export * as Project from "./Project.ts"

/** The cache backend layer of a project. */
export * as Backends from "./Backends.ts"

/** Errors of the CLI and their exit codes. */
export * as Errors from "./Errors.ts"

/** Live progress of a run. */
export * as Progress from "./Progress.ts"

/** Sizes and durations as `cache prune` reads them. */
export * as Units from "./Units.ts"

/** Durations, sizes and tables as the CLI prints them. */
export * as Format from "./Format.ts"
