import { assert, describe, it } from "@effect/vitest"
import { allowedHosts, refusal } from "../src/internal/security.ts"

describe("who may talk to the server", () => {
  const port = 7070
  it("answers requests for its own loopback host and port, from no page or its own", () => {
    assert.deepStrictEqual([...allowedHosts(port)], ["127.0.0.1:7070", "localhost:7070"])
    for (const host of ["127.0.0.1:7070", "localhost:7070", "LOCALHOST:7070"]) assert.isUndefined(refusal({ host }, port), host)
    assert.isUndefined(refusal({ host: "127.0.0.1:7070", origin: "http://127.0.0.1:7070" }, port))
    assert.isUndefined(refusal({ host: "127.0.0.1:7070", origin: "http://localhost:7070" }, port))
  })
  it("refuses another host (DNS rebinding), another port, no host, and pages of any other origin", () => {
    for (const host of [undefined, "", "evil.example", "evil.example:7070", "127.0.0.1", "127.0.0.1:7071", "127.0.0.1:7070.evil.example", "0.0.0.0:7070"]) {
      assert.match(refusal({ host }, port) ?? "", /answers only requests for http:\/\/127\.0\.0\.1:7070/, String(host))
    }
    for (const origin of ["http://evil.example", "http://127.0.0.1:7071", "https://127.0.0.1:7070", "null", "http://127.0.0.1:7070.evil.example"]) {
      assert.match(refusal({ host: "127.0.0.1:7070", origin }, port) ?? "", /another origin/, origin)
    }
  })
})
