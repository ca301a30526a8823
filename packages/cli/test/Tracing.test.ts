import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import type { RunReport } from "@expops/core"
import { ConfigProvider, Effect, Option } from "effect"
import * as Tracing from "../src/Tracing.ts"
import { cli, copyProject, editFile, run, spawnCli } from "./helpers.ts"
import * as OtlpReceiver from "./otlpReceiver.ts"

const receiver = Effect.acquireRelease(Effect.promise(OtlpReceiver.start), (r) => Effect.promise(r.close))

/** The spans of one run: its root span and its process and step spans, checked to form one tree. */
const treeOf = (spans: ReadonlyArray<OtlpReceiver.ReceivedSpan>, runId: string) => {
  const root = spans.find((s) => s.attributes["expops.run.id"] === runId)
  assert.isDefined(root, `no span for run ${runId} among ${spans.map((s) => s.name).join(", ")}`)
  assert.isUndefined(root!.parentSpanId)
  const inTrace = spans.filter((s) => s.traceId === root!.traceId)
  const processes = inTrace.filter((s) => s.attributes["expops.kind"] === "process")
  const steps = inTrace.filter((s) => s.attributes["expops.kind"] === "step")
  for (const p of processes) assert.strictEqual(p.parentSpanId, root!.spanId, p.name)
  for (const s of steps) {
    const parent = processes.find((p) => p.spanId === s.parentSpanId)
    assert.isDefined(parent, `step span ${s.name} has no process span as parent`)
    assert.strictEqual(parent!.attributes["expops.name"], s.attributes["expops.process"])
  }
  for (const s of inTrace) assert.isTrue(s.endNanos >= s.startNanos, s.name)
  return { root: root!, processes, steps }
}

const byName = (spans: ReadonlyArray<OtlpReceiver.ReceivedSpan>) => new Map(spans.map((s) => [String(s.attributes["expops.name"]), s]))

const stepsOf = (report: RunReport.RunReport) => report.processes.flatMap((p) => p.steps.map((s) => ({ process: p.name, ...s })))

describe("the OTLP endpoint", () => {
  const endpoint = (env: Record<string, string>, flag?: string) =>
    Tracing.endpoint(Option.fromUndefinedOr(flag)).pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

  it.effect("from --otlp, else the traces endpoint as it is, else the base endpoint with /v1/traces; off when disabled", () =>
    Effect.gen(function*() {
      assert.isUndefined(yield* endpoint({}))
      const base = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/prefix/" }
      assert.strictEqual((yield* endpoint(base))?.url, "http://collector:4318/prefix/v1/traces")
      assert.strictEqual((yield* endpoint({ ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/otlp" }))?.url, "https://traces.example/otlp")
      assert.strictEqual((yield* endpoint(base, "http://127.0.0.1:4318"))?.url, "http://127.0.0.1:4318/v1/traces")
      assert.isUndefined(yield* endpoint({ ...base, OTEL_SDK_DISABLED: "true" }))
      assert.isUndefined(yield* endpoint({ ...base, OTEL_TRACES_EXPORTER: "none" }))
      // The flag is explicit: it wins over the environment's switches.
      assert.isDefined(yield* endpoint({ OTEL_SDK_DISABLED: "true" }, "http://127.0.0.1:4318"))
      const full = yield* endpoint({
        ...base,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=abc%20def, team=ml",
        OTEL_SERVICE_NAME: "nightly"
      })
      assert.deepStrictEqual(full, {
        url: "http://collector:4318/prefix/v1/traces",
        protocol: "http/json",
        headers: { "x-api-key": "abc def", team: "ml" },
        serviceName: "nightly"
      })
      assert.strictEqual((yield* endpoint(base))?.protocol, "http/protobuf")
      const bad = yield* Effect.flip(endpoint({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "collector:4318" }))
      assert.include(bad.message, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: not an http(s) URL: "collector:4318"`)
    }))
})

describe("expops run exports OpenTelemetry spans", () => {
  it.live("an executed then a cached run: one span per run, process and step, with status, key, time saved, bytes and backend", () =>
    Effect.gen(function*() {
      const otlp = yield* receiver
      const dir = copyProject()

      // --otlp, in the default encoding (protobuf).
      const cold = yield* run(dir, "--otlp", otlp.url)
      assert.strictEqual(cold.status, 0, cold.stderr)
      assert.isTrue(otlp.contentTypes.every((type) => type === "application/x-protobuf"), otlp.contentTypes.join())
      const first = treeOf(otlp.spans, cold.report.run.id)
      assert.strictEqual(first.root.name, "run quickstart")
      assert.strictEqual(first.root.statusCode, 1)
      assert.strictEqual(first.root.resource["service.name"], "expops")
      assert.include(first.root.attributes, {
        "expops.kind": "run",
        "expops.status": "success",
        "expops.backend": "local",
        "expops.pipeline": "quickstart",
        "expops.seed": cold.report.run.seed,
        "expops.processes.executed": 4,
        "expops.processes.cached": 0
      })
      assert.strictEqual(first.processes.length, 4)
      const processes = byName(first.processes)
      for (const p of cold.report.processes) {
        const span = processes.get(p.name)
        assert.isDefined(span, p.name)
        assert.strictEqual(span!.name, `process ${p.name}`)
        assert.include(span!.attributes, { "expops.status": "executed", "expops.key": p.key, "expops.backend": "local" })
        assert.isAbove(Number(span!.attributes["expops.bytes_written"]), 0, p.name)
        assert.approximately(Number(span!.attributes["expops.duration_ms"]), p.durationMs, 1e-6)
      }
      // Every step the report lists has its span, under its process, with its status and key.
      const reported = stepsOf(cold.report)
      assert.isAbove(reported.length, 4)
      assert.strictEqual(first.steps.length, reported.length)
      for (const s of reported) {
        const span = first.steps.find((x) => x.attributes["expops.key"] === s.key && x.attributes["expops.process"] === s.process)
        assert.isDefined(span, `${s.process}/${s.name}`)
        assert.strictEqual(span!.name, `step ${s.name}`)
        assert.strictEqual(span!.attributes["expops.status"], s.status)
        assert.isAbove(Number(span!.attributes["expops.bytes_written"]), 0)
      }

      // The environment, in JSON: the same project served from the cache.
      const warm = yield* cli(["run", dir, "--json"], {
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${otlp.url}/`, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_SERVICE_NAME: "iris-nightly" }
      })
      assert.strictEqual(warm.status, 0, warm.stderr)
      assert.include(otlp.contentTypes, "application/json")
      const report = JSON.parse(warm.stdout) as RunReport.RunReport
      const second = treeOf(otlp.spans, report.run.id)
      assert.strictEqual(second.root.resource["service.name"], "iris-nightly")
      assert.include(second.root.attributes, { "expops.status": "success", "expops.processes.cached": 4, "expops.processes.executed": 0 })
      assert.isAbove(Number(second.root.attributes["expops.saved_ms"]), 0)
      assert.strictEqual(second.steps.length, 0, "a cached process runs no steps")
      const cached = byName(second.processes)
      for (const p of report.processes) {
        const span = cached.get(p.name)!
        assert.include(span.attributes, { "expops.status": "cached", "expops.key": p.key })
        assert.approximately(Number(span.attributes["expops.saved_ms"]), p.savedMs!, 1e-6)
        assert.isAbove(Number(span.attributes["expops.bytes_read"]), 0)
        // What it read is what the executed run wrote.
        assert.strictEqual(span.attributes["expops.bytes_read"], processes.get(p.name)!.attributes["expops.bytes_written"])
      }
    }).pipe(Effect.scoped))

  it.live("a failed run: the failing step and process spans carry the error and where it was raised; dependents are skipped", () =>
    Effect.gen(function*() {
      const otlp = yield* receiver
      const dir = copyProject()
      editFile(Path.join(dir, "data/iris.csv"), "4.9,3,1.4,0.2,setosa", "4.9,three,1.4,0.2,setosa")
      const failed = yield* run(dir, "--otlp", otlp.url)
      assert.strictEqual(failed.status, 1)
      const { processes, root, steps } = treeOf(otlp.spans, failed.report.run.id)
      assert.strictEqual(root.statusCode, 2)
      assert.strictEqual(root.attributes["expops.status"], "failed")
      const load = byName(processes).get("load_data")!
      assert.strictEqual(load.attributes["expops.status"], "failed")
      assert.strictEqual(load.statusCode, 2)
      const validate = steps.find((s) => s.attributes["expops.name"] === "validate")!
      assert.strictEqual(validate.attributes["expops.status"], "failed")
      assert.match(String(validate.attributes["expops.error.location"]), /src\/load\.ts:\d+:\d+/)
      assert.strictEqual(validate.statusMessage, failed.report.processes[0]!.steps.find((s) => s.name === "validate")!.error)
      assert.strictEqual(byName(processes).get("train_model")!.attributes["expops.status"], "skipped")
    }).pipe(Effect.scoped))

  it.live("spans the user's code opens are exported too, as children of the step they were opened in", () =>
    Effect.gen(function*() {
      const otlp = yield* receiver
      const dir = copyProject()
      editFile(
        Path.join(dir, "src/train.ts"),
        "        yield* Effect.yieldNow\n",
        "        yield* Effect.yieldNow.pipe(Effect.withSpan(\"user.epoch\", { attributes: { epoch } }))\n"
      )
      const traced = yield* run(dir, "--otlp", otlp.url)
      assert.strictEqual(traced.status, 0, traced.stderr)
      const { root, steps } = treeOf(otlp.spans, traced.report.run.id)
      const epochs = otlp.spans.filter((s) => s.name === "user.epoch")
      assert.isAbove(epochs.length, 1)
      // Children of the step whose body opened them.
      const fit = steps.filter((s) => s.name === "step fit")
      assert.strictEqual(fit.length, 1)
      for (const span of epochs) {
        assert.strictEqual(span.traceId, root.traceId)
        assert.strictEqual(span.parentSpanId, fit[0]!.spanId)
      }
      assert.strictEqual(epochs.length, (traced.report.metrics ?? []).filter((m) => m.name === "loss").length)
    }).pipe(Effect.scoped))

  it.live("a bad endpoint or protocol is a usage error (exit 2); a collector that refuses the spans is a warning; OTEL_SDK_DISABLED turns it off", () =>
    Effect.gen(function*() {
      const dir = copyProject()
      const bad = yield* cli(["run", dir, "--otlp", "localhost:4318"])
      assert.strictEqual(bad.status, 2)
      assert.include(bad.stderr, `--otlp: not an http(s) URL: "localhost:4318"`)
      const grpc = yield* cli(["run", dir], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" } })
      assert.strictEqual(grpc.status, 2)
      assert.include(grpc.stderr, `OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported`)
      // A collector that refuses the spans: the run succeeds, and says the spans were not exported.
      const otlp = yield* receiver
      const refused = yield* cli(["run", dir, "--otlp", `${otlp.url}/elsewhere`])
      assert.strictEqual(refused.status, 0, refused.stderr)
      assert.include(refused.stderr, `warning: the run's spans were not all exported to ${otlp.url}/elsewhere/v1/traces: the collector answered HTTP 404`)
      assert.strictEqual(otlp.spans.length, 0)
      // Disabled: the endpoint is ignored (nothing listens there; the run does not wait on it).
      const off = yield* cli(["run", dir], { env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_SDK_DISABLED: "true" } })
      assert.strictEqual(off.status, 0, off.stderr)
      assert.notInclude(off.stderr, "warning")
    }).pipe(Effect.scoped))

  it.live("the executable flushes its spans when it is interrupted (SIGINT): the run, the finished and the interrupted work", () =>
    Effect.gen(function*() {
      const otlp = yield* receiver
      const dir = copyProject(Path.resolve(import.meta.dirname, "fixtures/stuck"))
      let signalled = false
      const result = yield* Effect.promise(() =>
        spawnCli(["run", dir, "--json"], {
          env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
          onStderr: (text, child) => {
            if (!signalled && text.includes("waiting\n")) signalled = child.kill("SIGINT")
          }
        })
      )
      assert.strictEqual(result.status, 130, result.stderr)
      const report = JSON.parse(result.stdout) as RunReport.RunReport
      // The process has exited: everything the receiver holds was sent before it did.
      const { processes, root, steps } = treeOf(otlp.spans, report.run.id)
      assert.strictEqual(root.attributes["expops.status"], "interrupted")
      assert.deepStrictEqual(
        processes.map((p) => [p.attributes["expops.name"], p.attributes["expops.status"]]).sort(),
        [["first", "executed"], ["second", "interrupted"]]
      )
      const wait = steps.find((s) => s.attributes["expops.name"] === "wait")
      assert.isDefined(wait, "the step running when the run was interrupted")
      assert.strictEqual(wait!.attributes["effect.fiber.interrupted"], true)
    }).pipe(Effect.scoped))
})
