/**
 * Test support: a fake Cloud Storage server that the official client can
 * talk to, with fault injection.
 *
 * @since 0.1.0
 */

/** A fake GCS JSON API server on 127.0.0.1 (a test double, not an emulator). */
export * as FakeGcsServer from "./FakeGcsServer.ts"
