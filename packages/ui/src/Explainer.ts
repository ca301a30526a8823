/**
 * What the web UI explains with: the words of `expops explain`. The CLI
 * provides it (from its `explain` command), so the UI shows the same text and
 * does not format explanations of its own.
 *
 * @since 0.1.0
 */
import type { RunReport } from "@expops/core"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"

/**
 * One explanation: the text `expops explain` prints (without colours) and
 * the structured form `--json` prints.
 *
 * @since 0.1.0
 */
export interface Explained {
  readonly text: string
  readonly explanation: unknown
}

/**
 * Why nothing could be explained: `missing` when the run has no such process
 * or step (the request's fault: 404), else the store failed (500). The
 * message is what the page shows; the cause (the store's error, its errno
 * and stack) goes to the server's output.
 *
 * @since 0.1.0
 */
export interface Failure {
  readonly message: string
  readonly missing: boolean
  readonly cause?: unknown
}

/**
 * @since 0.1.0
 */
export interface Shape {
  /** `target` is `PROCESS` or `PROCESS/STEP` of the run. */
  readonly run: (report: RunReport.RunReport, target: string) => Effect.Effect<ReadonlyArray<Explained>, Failure>
  /** One cache entry by key; `None` when there is none. Reads without counting as a use of the entry. */
  readonly entry: (key: string) => Effect.Effect<Option.Option<Explained>, Failure>
}

/**
 * @since 0.1.0
 */
export class Explainer extends Context.Service<Explainer, Shape>()("expops/ui/Explainer") {}
