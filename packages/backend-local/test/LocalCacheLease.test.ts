import { assert, describe, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as os from "node:os"
import * as fs from "node:fs"
import * as path from "node:path"
import { CacheLeaseConformance } from "@expops/core/testing"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { LocalCacheLease } from "@expops/backend-local"
import { tmpDir } from "./fixtures/tmp.ts"

let owners = 0
CacheLeaseConformance.suite("local", (settings) =>
  Effect.sync(() => {
    const dir = tmpDir()
    // Owners as on other hosts sharing the folder: only their heartbeat tells whether they are alive.
    return {
      owner: () => {
        const n = ++owners
        return LocalCacheLease.make(dir, settings, { host: `machine-${n}`, token: `owner-${n}` })
      }
    }
  }))

const settings = CacheLeaseConformance.settings
const key = "c".repeat(64)

/** A pid that no longer exists: a child that has exited and been reaped. */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" })
  return Number(child.stdout)
}

describe("LocalCacheLease", () => {
  it.effect("the lease is a file beside the entries naming the owner's host, pid and last heartbeat", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const leases = yield* LocalCacheLease.make(dir, settings, { host: "build-1", pid: 4242, token: "t1" })
      yield* TestClock.setTime(1_000)
      const attempt = yield* leases.acquire(key)
      assert.strictEqual(attempt._tag, "Acquired")
      const file = path.join(dir, "leases", key)
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, "utf8")), { host: "build-1", pid: 4242, token: "t1", renewedAt: 1_000 })
      yield* TestClock.adjust(1_500)
      if (attempt._tag === "Acquired") assert.isTrue(yield* attempt.lease.renew)
      assert.strictEqual(JSON.parse(fs.readFileSync(file, "utf8")).renewedAt, 2_500)
      if (attempt._tag === "Acquired") yield* attempt.lease.release
      assert.isFalse(fs.existsSync(file))
      // No temp file or marker is left behind.
      assert.deepStrictEqual(fs.readdirSync(path.join(dir, "leases")), [])
    }))

  it.effect("a lease whose process is gone from this host is stale at once (a SIGKILLed run); elsewhere only its expiry counts", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const pid = deadPid()
      const dead = yield* LocalCacheLease.make(dir, settings, { pid, token: "dead" })
      const me = yield* LocalCacheLease.make(dir, settings)
      yield* dead.acquire(key)
      const seen = yield* me.acquire(key)
      assert.isTrue(seen._tag === "Held" && seen.stale, "stale without waiting for the expiry")
      assert.strictEqual(seen._tag === "Held" && seen.owner, `pid ${pid} on ${os.hostname()}`)
      if (seen._tag === "Held") assert.strictEqual((yield* me.takeOver(key, seen))._tag, "Acquired")

      // The same pid on another host sharing the folder: alive as far as this host can tell.
      const other = "d".repeat(64)
      const remote = yield* LocalCacheLease.make(dir, settings, { host: "elsewhere", pid, token: "remote" })
      yield* remote.acquire(other)
      const held = yield* me.acquire(other)
      assert.isTrue(held._tag === "Held" && !held.stale)
    }))

  it.effect("a lease whose process has exited but is not yet reaped by its parent (a zombie) is stale at once", () =>
    Effect.gen(function*() {
      // `sleep 0` exits at once; its parent, now `sleep 10`, never waits for it: a zombie until then.
      const parent = spawn("sh", ["-c", "sleep 0 & echo $!; exec sleep 10"], { stdio: ["ignore", "pipe", "ignore"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => parent.kill("SIGKILL")))
      const pid = Number(yield* Effect.promise(() => new Promise<string>((resolve) => parent.stdout!.once("data", (d) => resolve(String(d))))))
      const stat = () => fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      yield* Effect.promise(async () => {
        for (let i = 0; i < 200 && !stat().slice(stat().lastIndexOf(")") + 2).startsWith("Z"); i++) await new Promise((r) => setTimeout(r, 10))
      })
      const text = stat()
      assert.match(text.slice(text.lastIndexOf(")") + 2), /^Z /, "the child is a zombie")
      const started = text.slice(text.lastIndexOf(")") + 2).split(" ")[19]
      const dir = tmpDir()
      const me = yield* LocalCacheLease.make(dir, settings)
      fs.mkdirSync(path.join(dir, "leases"), { recursive: true })
      fs.writeFileSync(path.join(dir, "leases", key), `${JSON.stringify({ host: os.hostname(), pid, started, token: "zombie", renewedAt: 0 })}\n`)
      const seen = yield* me.acquire(key)
      assert.isTrue(seen._tag === "Held" && seen.stale, "taken over at once, not waited on")
    }).pipe(Effect.scoped))

  it.effect("a lease with this process's pid that this process never made was left by a dead run whose pid was reused: stale", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const me = yield* LocalCacheLease.make(dir, settings)
      fs.mkdirSync(path.join(dir, "leases"), { recursive: true })
      fs.writeFileSync(
        path.join(dir, "leases", key),
        `${JSON.stringify({ host: os.hostname(), pid: process.pid, token: "from-a-dead-container", renewedAt: 0 })}\n`
      )
      const seen = yield* me.acquire(key)
      assert.isTrue(seen._tag === "Held" && seen.stale)
    }))

  it.effect("a live owner on this host keeps its lease without renewing it (its event loop blocked by a long synchronous body); the same pid in another process does not", () =>
    Effect.gen(function*() {
      const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" })
      yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
      const stat = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8")
      const started = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
      const dir = tmpDir()
      const me = yield* LocalCacheLease.make(dir, settings)
      fs.mkdirSync(path.join(dir, "leases"), { recursive: true })
      const write = (k: string, startedAt: string) =>
        fs.writeFileSync(
          path.join(dir, "leases", k),
          `${JSON.stringify({ host: os.hostname(), pid: child.pid, started: startedAt, token: "blocked", renewedAt: 0 })}\n`
        )
      write(key, started!)
      yield* TestClock.setTime(settings.expiryMs * 10)
      const seen = yield* me.acquire(key)
      assert.isTrue(seen._tag === "Held" && !seen.stale, "alive: waited on, not taken over")
      // A pid reused by another process: its start time differs.
      const other = "d".repeat(64)
      write(other, String(Number(started) - 1))
      const reused = yield* me.acquire(other)
      assert.isTrue(reused._tag === "Held" && reused.stale)
    }).pipe(Effect.scoped))

  it.effect("this process's leases record its start time, so a reused pid is told apart", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const me = yield* LocalCacheLease.make(dir, settings)
      yield* me.acquire(key)
      const stored = JSON.parse(fs.readFileSync(path.join(dir, "leases", key), "utf8"))
      assert.strictEqual(stored.pid, process.pid)
      assert.match(stored.started, /^\d+$/)
    }))

  it.effect("a damaged lease file protects nothing: it is stale and taken over", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const me = yield* LocalCacheLease.make(dir, settings)
      fs.mkdirSync(path.join(dir, "leases"), { recursive: true })
      fs.writeFileSync(path.join(dir, "leases", key), "{ half a lea")
      const seen = yield* me.acquire(key)
      assert.isTrue(seen._tag === "Held" && seen.stale)
      if (seen._tag === "Held") assert.strictEqual((yield* me.takeOver(key, seen))._tag, "Acquired")
    }))

  it.effect("a taker that died mid-takeover blocks that lease only until its marker is older than the expiry", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const dead = yield* LocalCacheLease.make(dir, settings, { pid: deadPid(), token: "dead" })
      const me = yield* LocalCacheLease.make(dir, settings)
      yield* dead.acquire(key)
      const seen = yield* me.acquire(key)
      if (seen._tag !== "Held") return assert.fail("expected held")
      const digest = createHash("sha256").update(String(seen.version)).digest("hex")
      const marker = path.join(dir, "leases", `${key}.takeover-${digest.slice(0, 16)}`)
      fs.writeFileSync(marker, "1\n")
      const blocked = yield* me.takeOver(key, seen)
      assert.isTrue(blocked._tag === "Held" && !blocked.stale, "someone is taking it over: wait")
      assert.isTrue(fs.existsSync(marker))
      const old = (Date.now() - settings.expiryMs - 1_000) / 1000
      fs.utimesSync(marker, old, old)
      yield* me.takeOver(key, seen)
      assert.isFalse(fs.existsSync(marker), "an old marker is removed")
      assert.strictEqual((yield* me.takeOver(key, seen))._tag, "Acquired")
    }))

  it.effect("the leases folder removed mid-run (rm -rf .expops) is made again", () =>
    Effect.gen(function*() {
      const dir = tmpDir()
      const me = yield* LocalCacheLease.make(dir, settings)
      fs.rmSync(dir, { recursive: true, force: true })
      const attempt = yield* me.acquire(key)
      assert.strictEqual(attempt._tag, "Acquired")
      assert.isTrue(fs.existsSync(path.join(dir, "leases", key)))
    }))

  it.effect("a key that is not a cache key is refused, naming the place", () =>
    Effect.gen(function*() {
      const me = yield* LocalCacheLease.make(tmpDir(), settings)
      const error = yield* Effect.flip(me.acquire("../../etc/passwd"))
      assert.include(error.message, "acquire lease")
      assert.include(error.message, "not a cache key")
    }))
})
