/**
 * OpenTelemetry traces of a run: with `--otlp URL` or
 * `OTEL_EXPORTER_OTLP_ENDPOINT` set, `expops run` exports one span for the
 * run, one per process and one per step, through Effect's own OTLP exporter
 * (`effect/observability/OtlpTracer`).
 *
 * The spans are made from the run's events (`RunEvents`), so the core's
 * hit path carries nothing for tracing, and a run without OTLP configured
 * loads nothing more: the exporter and its HTTP client are imported only
 * when an endpoint is set. A step's or process's body runs under its span
 * (`RunEvents.within`, asked on a miss), so the spans the user's own code
 * opens (`Effect.fn`, `Effect.withSpan`) and the steps it calls are its
 * children, exported with the run.
 *
 * The exporter lives in the scope of the command: closing it (the run
 * succeeded, failed or was interrupted) sends the spans still buffered.
 *
 * @since 0.1.0
 */
import { RunEvents } from "@expops/core"
import type { RunReport } from "@expops/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { UsageError } from "./Errors.ts"
import * as Version from "./internal/version.ts"

/**
 * Where and how spans are sent.
 *
 * @since 0.1.0
 */
export interface Endpoint {
  /** The OTLP/HTTP traces URL (`http://localhost:4318/v1/traces`). */
  readonly url: string
  readonly protocol: "http/protobuf" | "http/json"
  /** From `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS` (`key=value,key2=value2`). */
  readonly headers: Record<string, string>
  /** `OTEL_SERVICE_NAME`, else `expops`. */
  readonly serviceName: string
}

const env = (name: string) => Config.option(Config.String(name)).pipe(Effect.map(Option.getOrUndefined), Effect.orDie)

/** `/v1/traces` appended to a base URL, as the OTLP spec says for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
const tracesUrl = (base: URL): string => {
  const url = new URL(base.href)
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/v1/traces`
  return url.href
}

const parseUrl = (value: string, source: string) =>
  Effect.suspend(() => {
    const url = URL.canParse(value) ? new URL(value) : undefined
    return url !== undefined && (url.protocol === "http:" || url.protocol === "https:")
      ? Effect.succeed(url)
      : Effect.fail(new UsageError({ message: `${source}: not an http(s) URL: ${JSON.stringify(value)} (an OTLP/HTTP endpoint, e.g. http://localhost:4318)` }))
  })

const parseHeaders = (value: string | undefined): Record<string, string> => {
  const headers: Record<string, string> = {}
  for (const pair of (value ?? "").split(",")) {
    const at = pair.indexOf("=")
    if (at > 0) headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim())
  }
  return headers
}

/**
 * The endpoint a run exports to, or `undefined` when tracing is off:
 * `--otlp URL` (a base URL, like `OTEL_EXPORTER_OTLP_ENDPOINT`), else
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is), else
 * `OTEL_EXPORTER_OTLP_ENDPOINT`. The environment is ignored when
 * `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
 *
 * @since 0.1.0
 */
export const endpoint = Effect.fnUntraced(function*(flag: Option.Option<string>) {
  let url: string | undefined
  if (Option.isSome(flag)) {
    url = tracesUrl(yield* parseUrl(flag.value, "--otlp"))
  } else {
    const disabled = (yield* env("OTEL_SDK_DISABLED"))?.trim().toLowerCase() === "true" ||
      (yield* env("OTEL_TRACES_EXPORTER"))?.trim().toLowerCase() === "none"
    if (disabled) return undefined
    const traces = (yield* env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))?.trim()
    const base = (yield* env("OTEL_EXPORTER_OTLP_ENDPOINT"))?.trim()
    if (traces) url = (yield* parseUrl(traces, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")).href
    else if (base) url = tracesUrl(yield* parseUrl(base, "OTEL_EXPORTER_OTLP_ENDPOINT"))
    else return undefined
  }
  const protocol = ((yield* env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")) ?? (yield* env("OTEL_EXPORTER_OTLP_PROTOCOL")) ?? "http/protobuf").trim()
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    return yield* new UsageError({
      message: `OTEL_EXPORTER_OTLP_PROTOCOL: ${JSON.stringify(protocol)} is not supported; expops exports OTLP over HTTP: http/protobuf (the default) or http/json` +
        (protocol === "grpc" ? " (a collector's OTLP/HTTP port is usually 4318)" : "")
    })
  }
  const headers = parseHeaders((yield* env("OTEL_EXPORTER_OTLP_TRACES_HEADERS")) ?? (yield* env("OTEL_EXPORTER_OTLP_HEADERS")))
  const serviceName = (yield* env("OTEL_SERVICE_NAME"))?.trim() || "expops"
  return { url, protocol, headers, serviceName } satisfies Endpoint
})

/**
 * The tracing of one run: the listener that turns its events into spans,
 * and `run`, which runs the pipeline under the run's span.
 *
 * @since 0.1.0
 */
export interface Tracing {
  readonly listener: (event: RunEvents.RunEvent) => Effect.Effect<void>
  /** The span of the step or process an event is about, for its body to run under (`RunEvents.Shape.spanOf`). */
  readonly spanOf: (event: RunEvents.RunEvent) => Tracer.AnySpan | undefined
  /** The run's events layer: these spans, and `progress` too when given. */
  readonly events: (progress: ((event: RunEvents.RunEvent) => Effect.Effect<void>) | undefined) => Layer.Layer<never>
  /** `interrupted`: what an interrupted run did (`Pipeline.ExecuteOptions.onInterrupt`'s report), once it has been. */
  readonly run: <E, R>(
    pipeline: Effect.Effect<RunReport.RunReport, E, R>,
    interrupted: () => RunReport.RunReport | undefined
  ) => Effect.Effect<RunReport.RunReport, E, R>
}

/**
 * Starts the exporter (in the current scope, whose closing flushes it) when
 * an endpoint is configured; `undefined` when not.
 *
 * @since 0.1.0
 */
export const start = Effect.fnUntraced(function*(
  flag: Option.Option<string>,
  run: { readonly pipeline: string; readonly backend: string; readonly seed: number }
): Effect.fn.Return<Tracing | undefined, UsageError, Scope.Scope> {
  const target = yield* endpoint(flag)
  if (target === undefined) return undefined
  // The exporter, its HTTP client and serializer load only here.
  const Otlp = yield* Effect.promise(() => import("./internal/otlp.ts"))
  const tracer = yield* Otlp.tracer(target, Version.read())
  return yield* make(tracer, run)
})

/**
 * The spans of a run made with `tracer` (`start` with OTLP's; tests may pass their own).
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(
  tracer: Tracer.Tracer,
  run: { readonly pipeline: string; readonly backend: string; readonly seed: number }
) {
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeNanosUnsafe()
  const open = (name: string, parent: Tracer.AnySpan | undefined, attributes: Record<string, unknown>) => {
    const span = tracer.span({
      name,
      parent: parent === undefined ? Option.none() : Option.some(parent),
      annotations: Context.empty(),
      links: [],
      startTime: now(),
      kind: "internal",
      root: parent === undefined,
      sampled: true
    })
    for (const [key, value] of Object.entries(attributes)) if (value !== undefined) span.attribute(key, value)
    return span
  }
  const common = { "expops.pipeline": run.pipeline, "expops.backend": run.backend }
  const runSpan = open(`run ${run.pipeline}`, undefined, { ...common, "expops.kind": "run", "expops.seed": run.seed })

  const processes = new Map<string, Tracer.Span>()
  /** Open step spans by process, step and key; identical concurrent calls queue under one id. */
  const steps = new Map<string, Array<Tracer.Span>>()
  const stepId = (event: RunEvents.RunEvent) => `${event.process}\0${event.step}\0${event.key}`

  const status: Record<RunEvents.Phase, string | undefined> = {
    start: undefined,
    miss: undefined,
    wait: undefined,
    hit: "cached",
    store: "executed",
    fail: "failed",
    skip: "skipped",
    interrupt: "interrupted"
  }

  const end = (span: Tracer.Span, event: RunEvents.RunEvent) => {
    const attributes: Record<string, unknown> = {
      "expops.status": status[event.phase],
      "expops.key": event.key || undefined,
      "expops.duration_ms": event.durationMs,
      "expops.saved_ms": event.savedMs,
      "expops.waited_ms": event.waitedMs,
      "expops.bytes_read": event.bytesRead,
      "expops.bytes_written": event.bytesWritten,
      "expops.error": event.error,
      "expops.error.location": event.location
    }
    for (const [key, value] of Object.entries(attributes)) if (value !== undefined) span.attribute(key, value)
    span.end(now(), exitOf(event))
  }

  const listener = (event: RunEvents.RunEvent): Effect.Effect<void> =>
    Effect.withFiberSucceed((fiber) => {
      const named = {
        ...common,
        "expops.kind": event.kind,
        "expops.name": event.kind === "step" ? event.step : event.process,
        "expops.process": event.process,
        "expops.process.base": event.base,
        "expops.key": event.key || undefined
      }
      if (event.kind === "process") {
        if (event.phase === "start") processes.set(event.process, open(`process ${event.process}`, runSpan, named))
        else if (event.phase === "skip") end(open(`process ${event.process}`, runSpan, named), event)
        else if (event.phase !== "miss") {
          const span = processes.get(event.process)
          if (span === undefined) {
            // A process whose output then failed to split (data parallelism): its span has ended; the run's records it.
            if (event.phase === "fail") {
              runSpan.event("expops.process.failed", now(), { "expops.process": event.process, "expops.error": event.error ?? "failed" })
            }
            return
          }
          processes.delete(event.process)
          end(span, event)
        }
        return
      }
      const id = stepId(event)
      if (event.phase === "start") {
        // Under the span the step was called in: its process's, an enclosing step's, or one of the user's own.
        const current = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
        const parent = current !== undefined && current !== runSpan ? current : processes.get(event.process) ?? runSpan
        const span = open(`step ${event.step}`, parent, named)
        const queue = steps.get(id)
        if (queue === undefined) steps.set(id, [span])
        else queue.push(span)
      } else if (event.phase !== "miss") {
        const span = steps.get(id)?.shift()
        if (span !== undefined) end(span, event)
      }
    })

  const finish = (exit: Exit.Exit<RunReport.RunReport, unknown>, partial: () => RunReport.RunReport | undefined) =>
    Effect.sync(() => {
      // Spans a run left open (steps running when it was interrupted) end with it.
      for (const queue of steps.values()) for (const span of queue) span.end(now(), Exit.interrupt())
      for (const span of processes.values()) span.end(now(), Exit.interrupt())
      steps.clear()
      processes.clear()
      const report = Exit.isSuccess(exit) ? exit.value : partial()
      if (report !== undefined) {
        const count = (status: string) => report.processes.filter((p) => p.status === status).length
        const stepCount = (status: string) => report.processes.reduce((n, p) => n + p.steps.filter((s) => s.status === status).length, 0)
        const attributes: Record<string, unknown> = {
          "expops.run.id": report.run.id,
          "expops.status": report.run.status,
          "expops.duration_ms": report.run.durationMs,
          "expops.saved_ms": report.processes.reduce((n, p) => n + (p.savedMs ?? 0), 0),
          "expops.processes.executed": count("executed"),
          "expops.processes.cached": count("cached"),
          "expops.processes.failed": count("failed"),
          "expops.processes.skipped": count("skipped"),
          "expops.steps.executed": stepCount("executed"),
          "expops.steps.cached": stepCount("cached")
        }
        for (const [key, value] of Object.entries(attributes)) runSpan.attribute(key, value)
      }
      if (Exit.isFailure(exit)) {
        if (report === undefined) runSpan.attribute("expops.status", Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed")
        return runSpan.end(now(), exit)
      }
      const failed = exit.value.processes.filter((p) => p.status === "failed").map((p) => p.name)
      runSpan.end(now(), exit.value.run.status === "failed" ? Exit.fail(failure("RunFailed", `failed: ${failed.join(", ")}`)) : Exit.void)
    })

  const traced: Tracing["run"] = (pipeline, interrupted) =>
    pipeline.pipe(
      // Spans the user's code opens are the run's children, exported with it.
      Effect.withParentSpan(runSpan),
      Effect.provideService(Tracer.Tracer, tracer),
      Effect.onExit((exit) => finish(exit, interrupted))
    )

  const spanOf = (event: RunEvents.RunEvent): Tracer.AnySpan | undefined =>
    event.kind === "process" ? processes.get(event.process) : steps.get(stepId(event))?.[0]

  const events: Tracing["events"] = (progress) =>
    RunEvents.layer(progress === undefined ? listener : (event) => Effect.andThen(progress(event), listener(event)), { spanOf })

  return { listener, spanOf, events, run: traced } satisfies Tracing
})

/** A failure as OTLP shows it: the error's message, and where in the user's code it was raised as its stack. */
const failure = (name: string, message: string, location?: string): Error => {
  const error = new Error(message)
  error.name = name
  error.stack = location === undefined ? `${name}: ${message}` : `${name}: ${message}\n    at ${location}`
  return error
}

const exitOf = (event: RunEvents.RunEvent): Exit.Exit<unknown, unknown> => {
  if (event.phase === "fail") {
    return Exit.fail(failure(event.kind === "step" ? "StepFailed" : "ProcessFailed", event.error ?? "failed", event.location))
  }
  if (event.phase === "interrupt") return Exit.interrupt()
  return Exit.void
}
