/**
 * The fake server checked through the official client (not mocked): what
 * the stores rely on must behave as Cloud Storage documents it.
 */
import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import { CRC32C, Storage } from "@google-cloud/storage"
import { Effect } from "effect"
import { FakeGcsServer } from "@expops/backend-gcs/testing"
import { BUCKET, content, server } from "./fixtures/gcs.ts"

const storageOf = (url: string) => new Storage({ apiEndpoint: url, retryOptions: { autoRetry: false, retryableErrorFn: () => false } })

const readAll = (stream: NodeJS.ReadableStream) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Array<Buffer> = []
    stream.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve(Buffer.concat(chunks))).on("error", reject)
  })

const crc32cOf = (data: Uint8Array): string => {
  // Bitwise reference implementation, independent of the server's table-driven one.
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  const out = Buffer.alloc(4)
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0)
  return out.toString("base64")
}

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

describe("FakeGcsServer", () => {
  it.live("reports md5Hash and crc32c as GCS does (base64, CRC32C big-endian)", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const data = content(100_003)
      const file = storageOf(fake.url).bucket(BUCKET).file("a")
      yield* promise(() => file.save(Buffer.from(data), { resumable: false }))
      const [metadata] = yield* promise(() => file.getMetadata())
      assert.strictEqual(metadata.md5Hash, createHash("md5").update(data).digest("base64"))
      assert.strictEqual(metadata.crc32c, crc32cOf(data))
      assert.strictEqual(crc32cOf(new TextEncoder().encode("123456789")), Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString("base64"))
    }))

  it("its CRC32C (which the client also uses, see GcsClient) agrees with the client's own and a bitwise reference", () => {
    for (const size of [0, 1, 7, 8, 9, 1_000_003]) {
      const data = content(size, size)
      const theirs = new CRC32C()
      theirs.update(Buffer.from(data))
      assert.strictEqual(FakeGcsServer.checksums(data).crc32c, theirs.toString(), `size ${size}`)
      assert.strictEqual(FakeGcsServer.checksums(data).crc32c, crc32cOf(data), `size ${size}`)
    }
  })

  it.live("generations grow, and ifGenerationMatch guards writes and reads (412)", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const file = storageOf(fake.url).bucket(BUCKET).file("g")
      yield* promise(() => file.save("one", { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }))
      const first = Number(file.metadata.generation)
      const refused = yield* promise(() => file.save("two", { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }).then(() => 0, (e) => e.code))
      assert.strictEqual(refused, 412)
      yield* promise(() => file.save("two", { resumable: false, preconditionOpts: { ifGenerationMatch: first } }))
      const second = Number(file.metadata.generation)
      assert.isTrue(second > first)
      const stale = yield* promise(() => file.save("three", { resumable: true, preconditionOpts: { ifGenerationMatch: first } }).then(() => 0, (e) => e.code))
      assert.strictEqual(stale, 412)
      const [text] = yield* promise(() => file.download())
      assert.strictEqual(text.toString(), "two")
    }))

  it.live("serves ranged reads", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const data = content(10_000)
      fake.putObject(BUCKET, "r", data)
      const file = storageOf(fake.url).bucket(BUCKET).file("r")
      const part = yield* promise(() => readAll(file.createReadStream({ start: 100, end: 199 })))
      assert.deepStrictEqual(new Uint8Array(part), data.subarray(100, 200))
    }))

  it.live("lists with prefix, delimiter, maxResults and page tokens", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      for (const name of ["p/a", "p/b", "p/d/1", "p/d/2", "p/e/1", "p/f", "q/z"]) fake.putObject(BUCKET, name, new Uint8Array(1))
      const bucket = storageOf(fake.url).bucket(BUCKET)
      const pages: Array<{ items: Array<string>; prefixes: Array<string> }> = []
      let pageToken: string | undefined
      do {
        const [, next, response] = yield* promise(() =>
          bucket.getFiles({ prefix: "p/", delimiter: "/", maxResults: 2, autoPaginate: false, ...(pageToken ? { pageToken } : {}) })
        )
        const r = response as any
        pages.push({ items: (r.items ?? []).map((i: any) => i.name), prefixes: r.prefixes ?? [] })
        pageToken = (next as any)?.pageToken
      } while (pageToken)
      assert.deepStrictEqual(pages, [
        { items: ["p/a", "p/b"], prefixes: [] },
        { items: [], prefixes: ["p/d/", "p/e/"] },
        { items: ["p/f"], prefixes: [] }
      ])
      const [all] = yield* promise(() => bucket.getFiles({ prefix: "p/" }))
      assert.deepStrictEqual(all.map((f) => f.name), ["p/a", "p/b", "p/d/1", "p/d/2", "p/e/1", "p/f"])
    }))

  it.live("answers 404 for a missing bucket, 403 or 401 when access is refused", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const storage = storageOf(fake.url)
      const codeOf = (p: Promise<unknown>) => p.then(() => 0, (e: any) => e.code)
      assert.strictEqual(yield* promise(() => codeOf(storage.bucket("nope").getMetadata())), 404)
      assert.strictEqual(yield* promise(() => codeOf(storage.bucket("nope").getFiles())), 404)
      fake.setAccess(BUCKET, "read-only")
      assert.strictEqual(yield* promise(() => codeOf(storage.bucket(BUCKET).file("x").save("x", { resumable: false }))), 403)
      assert.strictEqual(yield* promise(() => codeOf(storage.bucket(BUCKET).getFiles())), 0)
      fake.setAccess(BUCKET, "none", 401)
      assert.strictEqual(yield* promise(() => codeOf(storage.bucket(BUCKET).getFiles())), 401)
    }))

  it.live("a resumable upload in chunks, and the status query between them", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const data = content(1024 * 1024 + 17)
      const file = storageOf(fake.url).bucket(BUCKET).file("chunked")
      yield* promise(() => file.save(Buffer.from(data), { resumable: true, chunkSize: 256 * 1024 }))
      assert.strictEqual(fake.count({ operation: "upload.resumable.chunk" }), 5)
      assert.deepStrictEqual(new Uint8Array(fake.objects(BUCKET).get("chunked")!.data), data)
    }))

  it.live("faults: the Nth matching request, for a number of times", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      fake.putObject(BUCKET, "f", new Uint8Array(10))
      const rule = fake.inject({ when: { operation: "object.get", name: "f" }, nth: 2, times: 2, fault: { status: 503 } })
      const file = storageOf(fake.url).bucket(BUCKET).file("f")
      const codes: Array<number> = []
      for (let i = 0; i < 4; i++) codes.push(yield* promise(() => file.getMetadata().then(() => 200, (e: any) => e.code)))
      assert.deepStrictEqual(codes, [200, 503, 503, 200])
      assert.strictEqual(rule.hits(), 2)
      assert.deepStrictEqual(fake.requests.map((r) => r.fault), [undefined, "status 503", "status 503", undefined])
    }))

  it.live("a simple media upload (uploadType=media) and a plain HTTP download", () =>
    Effect.gen(function*() {
      const fake = yield* server()
      const response = yield* promise(() =>
        fetch(`${fake.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=m%2Fx`, { method: "POST", body: "hello" }).then((r) => r.json() as Promise<any>)
      )
      assert.strictEqual(response.name, "m/x")
      assert.strictEqual(response.size, "5")
      const text = yield* promise(() => fetch(`${fake.url}/download/storage/v1/b/${BUCKET}/o/m%2Fx?alt=media`).then((r) => r.text()))
      assert.strictEqual(text, "hello")
    }))
})
