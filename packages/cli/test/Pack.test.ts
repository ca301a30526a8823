/**
 * The path to publishing: the workspace packages packed with `npm pack`
 * install into an empty folder and run the quick start there, as they would
 * from the registry.
 *
 * The registry is not reachable here, so the folder is installed with
 * `npm ci --offline` from a lock file made of the tarballs and, for
 * everything they depend on, the entries of the repository's own lock file
 * (whose packages `npm ci` of the checkout put in npm's cache).
 */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { editConfig, repoRoot, tempDir, TEST_EPOCHS } from "./helpers.ts"

const WORKSPACES = ["packages/core", "packages/backend-local", "packages/backend-gcs", "packages/ui", "packages/cluster", "packages/cli"]

interface LockEntry {
  readonly name?: string
  readonly version?: string
  readonly dependencies?: Readonly<Record<string, string>>
  readonly optionalDependencies?: Readonly<Record<string, string>>
  readonly peerDependencies?: Readonly<Record<string, string>>
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>
  readonly [key: string]: unknown
}

const npm = (args: ReadonlyArray<string>, cwd: string) => {
  const result = spawnSync("npm", args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_update_notifier: "false" } })
  assert.strictEqual(result.status, 0, `npm ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

/** Names a lock entry needs installed beside it (optional peers left out, as npm does). */
const needs = (entry: LockEntry): Array<string> => [
  ...Object.keys(entry.dependencies ?? {}),
  ...Object.keys(entry.optionalDependencies ?? {}),
  ...Object.keys(entry.peerDependencies ?? {}).filter((name) => entry.peerDependenciesMeta?.[name]?.optional !== true)
]

/**
 * A package.json and lock file installing the tarballs in `vendor/` and, from
 * the repository's lock file, every package they need (nested copies
 * included), marked as what they are here: dependencies of an app.
 */
const appFor = (vendor: string, tarballs: ReadonlyArray<string>) => {
  const lock = JSON.parse(readFileSync(Path.join(repoRoot, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> }
  const packages: Record<string, LockEntry> = {}
  const dependencies: Record<string, string> = {}
  const wanted: Array<string> = []
  for (const workspace of WORKSPACES) {
    const manifest = lock.packages[workspace]!
    const tarball = tarballs.find((t) => t.startsWith(`${manifest.name!.replace("@", "").replace("/", "-")}-`))!
    const integrity = `sha512-${createHash("sha512").update(readFileSync(Path.join(vendor, tarball))).digest("base64")}`
    dependencies[manifest.name!] = `file:vendor/${tarball}`
    const { license, ...rest } = manifest
    packages[`node_modules/${manifest.name}`] = { ...rest, license, resolved: `file:vendor/${tarball}`, integrity }
    wanted.push(...needs(manifest))
  }
  const copied = new Set<string>()
  while (wanted.length > 0) {
    const name = wanted.pop()!
    if (copied.has(name) || packages[`node_modules/${name}`] !== undefined) continue
    copied.add(name)
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path !== `node_modules/${name}` && !path.startsWith(`node_modules/${name}/node_modules/`)) continue
      // A dependency of the app, whatever it was to the repository.
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry as LockEntry & Record<string, unknown>
      packages[path] = kept
      wanted.push(...needs(entry))
    }
  }
  dependencies.effect = String(lock.packages["node_modules/effect"]!.version)
  const pkg = { name: "packed-app", version: "1.0.0", private: true, type: "module", dependencies }
  return {
    pkg,
    lock: { name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages: { "": pkg, ...packages } }
  }
}

describe("the packed packages", () => {
  it("install into an empty folder without the registry and run the quick start there, cold then from the cache", () => {
    const app = tempDir()
    const vendor = Path.join(app, "vendor")
    mkdirSync(vendor)
    npm(["pack", "--silent", "--pack-destination", vendor, ...WORKSPACES.flatMap((w) => ["--workspace", w])], repoRoot)
    const tarballs = readdirSync(vendor).filter((f) => f.endsWith(".tgz")).sort()
    assert.strictEqual(tarballs.length, WORKSPACES.length, tarballs.join(", "))

    const { lock, pkg } = appFor(vendor, tarballs)
    writeFileSync(Path.join(app, "package.json"), JSON.stringify(pkg, null, 2))
    writeFileSync(Path.join(app, "package-lock.json"), JSON.stringify(lock, null, 2))
    npm(["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"], app)

    const expops = (args: ReadonlyArray<string>) =>
      spawnSync(process.execPath, [Path.join(app, "node_modules/@expops/cli/dist/bin.js"), ...args], {
        cwd: app,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1" }
      })
    // The template travels inside the package (prepack copies the examples).
    const created = expops(["create", "quickstart"])
    assert.strictEqual(created.status, 0, created.stderr)
    const project = Path.join(app, "quickstart")
    editConfig(project, /epochs: \d+/, `epochs: ${TEST_EPOCHS}`)
    const cold = expops(["run", "quickstart", "--json"])
    assert.strictEqual(cold.status, 0, cold.stderr)
    assert.isTrue(JSON.parse(cold.stdout).processes.every((p: { status: string }) => p.status === "executed"))
    const warm = expops(["run", "quickstart", "--json"])
    assert.strictEqual(warm.status, 0, warm.stderr)
    assert.isTrue(JSON.parse(warm.stdout).processes.every((p: { status: string }) => p.status === "cached"))
    // The web UI's front end travels built inside @expops/ui: serving needs no build step and no network.
    for (const file of ["index.html", "app.js", "app.css"]) {
      assert.isTrue(existsSync(Path.join(app, "node_modules/@expops/ui/dist/web", file)), `@expops/ui/dist/web/${file}`)
    }
  })
})
