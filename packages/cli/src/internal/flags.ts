/** Arguments and flags shared by several commands. */
import * as Argument from "effect/cli/Argument"
import * as Flag from "effect/cli/Flag"

export const dir = Argument.String("dir").pipe(
  Argument.withDescription("The project folder (the one holding configs/project_config.yaml)")
)

export const json = Flag.Boolean("json").pipe(
  Flag.withoutNegation,
  Flag.withDefault(false),
  Flag.withDescription("Print one JSON document on stdout (messages go to stderr)")
)

export const backend = Flag.Literals("backend", ["local", "gcs"]).pipe(
  Flag.optional,
  Flag.withDescription("Use this cache backend instead of the one in the config (model.parameters.cache.backend)")
)

/** `--run ID`: a recorded run instead of the last one. */
export const run = (description: string) =>
  Flag.String("run").pipe(Flag.optional, Flag.withDescription(`${description} (see \`expops runs ls\`)`))
