/**
 * A throwaway PostgreSQL for tests: Debian's server binaries (`.ci/run`
 * installs the `postgresql` package), a data folder in a temp directory, a
 * free port on 127.0.0.1, trust authentication, fsync off. As root, initdb
 * and pg_ctl run as the `postgres` user, who must own the folder. Used by
 * the integration tests and `bench/cluster.ts`.
 *
 * @since 0.1.0
 */
import { execFileSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import * as Path from "node:path"

export interface Postgres {
  readonly url: string
  readonly port: number
  /** Creates another database on the server; answers its URL. */
  readonly createDatabase: (name: string) => string
  readonly stop: () => void
}

const binDir = (): string => {
  const root = "/usr/lib/postgresql"
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  const found = versions.map((v) => Path.join(root, v, "bin")).find((dir) => existsSync(Path.join(dir, "initdb")))
  if (found === undefined) throw new Error("PostgreSQL is not installed here: apt-get install -y postgresql (.ci/run does)")
  return found
}

/** A port nothing listens on now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

export const start = async (): Promise<Postgres> => {
  const bin = binDir()
  const port = await freePort()
  const dir = mkdtempSync(Path.join(tmpdir(), "expops-pg-"))
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()))
  }
  const sh = (command: string) =>
    asRoot
      ? execFileSync("su", ["postgres", "-s", "/bin/sh", "-c", command], { stdio: ["ignore", "pipe", "pipe"] })
      : execFileSync("/bin/sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] })
  const data = Path.join(dir, "data")
  sh(`${bin}/initdb -D ${data} -U postgres --auth=trust >/dev/null`)
  sh(`${bin}/pg_ctl -D ${data} -l ${dir}/log -w -o '-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off' start >/dev/null`)
  const createDatabase = (name: string) => {
    execFileSync(`${bin}/psql`, ["-q", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-c", `CREATE DATABASE ${name}`])
    return `postgres://postgres@127.0.0.1:${port}/${name}`
  }
  return {
    url: createDatabase("expops"),
    port,
    createDatabase,
    stop: () => {
      try {
        sh(`${bin}/pg_ctl -D ${data} -m immediate -w stop >/dev/null`)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}
