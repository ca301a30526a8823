/**
 * Who may talk to the server: requests addressed to the loopback host and
 * port it serves, and none from a page of another origin. This is what
 * stops DNS rebinding (a page on evil.example whose name now resolves to
 * 127.0.0.1 sends `Host: evil.example:PORT`) and cross-site requests from a
 * page in the user's browser (`Origin: https://evil.example`).
 */

/** The names the server answers to at `port`. It listens on 127.0.0.1 only. */
export const allowedHosts = (port: number): ReadonlySet<string> => new Set([`127.0.0.1:${port}`, `localhost:${port}`])

/**
 * Why a request is refused, or `undefined` when it may go on. A missing
 * `Origin` is allowed: browsers omit it on same-origin GETs, and tools
 * (curl) never send one.
 */
export const refusal = (headers: Readonly<Record<string, string | undefined>>, port: number): string | undefined => {
  const hosts = allowedHosts(port)
  const host = headers["host"]?.toLowerCase()
  if (host === undefined || !hosts.has(host)) {
    return `this server answers only requests for http://127.0.0.1:${port} (Host ${JSON.stringify(host ?? "")} refused)`
  }
  const origin = headers["origin"]
  if (origin !== undefined && !(origin.toLowerCase().startsWith("http://") && hosts.has(origin.toLowerCase().slice(7)))) {
    return `requests from pages of another origin are refused (Origin ${JSON.stringify(origin)})`
  }
  return undefined
}

/** Sent with every response: no framing, no sniffing, nothing loaded from elsewhere, nothing cached. */
export const headers: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
}
