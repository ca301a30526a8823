import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { CodeFingerprint, Failure } from "@expops/core"
import { Effect, Exit, Schema } from "effect"

const here = fileURLToPath(import.meta.url)
/** The line of this file holding `text`. */
const lineOf = (text: string) => readFileSync(here, "utf8").split("\n").findIndex((l) => l.includes(text)) + 1

class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { id: Schema.Int, where: Schema.String }) {}

const causeOf = <A, E>(effect: Effect.Effect<A, E>) => {
  const exit = Effect.runSyncExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return exit.cause
}

describe("Failure", () => {
  CodeFingerprint.configure({ root: Path.resolve(Path.dirname(here), "..") })

  it("a defect: the message with its name, where the user's code threw it, the user's frames only", () => {
    const cause = causeOf(Effect.gen(function*() {
      const value: any = undefined
      return value.field
    }))
    const failure = Failure.fromCause(cause)
    assert.strictEqual(failure.error, "TypeError: Cannot read properties of undefined (reading 'field')")
    assert.strictEqual(failure.location, `test/Failure.test.ts:${lineOf("return value.field")}:20`)
    const frames = failure.stack!.split("\n")
    assert.strictEqual(frames[0], "TypeError: Cannot read properties of undefined (reading 'field')")
    for (const frame of frames.slice(1)) assert.match(frame, /^ {4}at .*test\/Failure\.test\.ts:\d+:\d+\)?$/)
    assert.isUndefined(failure.errorTag)
  })

  it("a tagged error keeps its tag and fields", () => {
    const failure = Failure.fromCause(causeOf(Effect.gen(function*() {
      return yield* new NotFound({ id: 7, where: "the index" })
    })))
    assert.strictEqual(failure.errorTag, "NotFound")
    assert.deepStrictEqual(failure.errorFields, { id: 7, where: "the index" })
    assert.match(failure.location ?? "", /^test\/Failure\.test\.ts:\d+:\d+$/)
  })

  it("an error raised outside the user's code has no location", () => {
    CodeFingerprint.configure({ root: "/nowhere" })
    try {
      const failure = Failure.fromCause(causeOf(Effect.die(new RangeError("too far"))))
      assert.deepStrictEqual(failure, { error: "RangeError: too far" })
    } finally {
      CodeFingerprint.configure({ root: Path.resolve(Path.dirname(here), "..") })
    }
  })
})
