/**
 * The `expops` executable under Node, spawned as a user runs it. Everything
 * a command does is tested in-process (see helpers.ts); these tests are
 * about what only a real process has: its exit status, signals, start-up,
 * and the working directory it was started in.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Cli } from "@expops/cli"
import { bin, copyProject, editFile, hardLinkTree, manifestKeys, repoRoot, spawnCli, spawnCliSync } from "./helpers.ts"

/** A Node older than the CLI supports, on the PATH outside the npm scripts' own `.bin` folders (the machine's), if any. */
const oldNode = (() => {
  for (const dir of (process.env.PATH ?? "").split(Path.delimiter)) {
    if (dir.includes("node_modules")) continue
    const node = Path.join(dir, "node")
    if (!existsSync(node)) continue
    const version = spawnSync(node, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim()
    const [major = 99, minor = 0] = version.split(".").map(Number)
    if (major < 22 || (major === 22 && minor < 19)) return { node, version }
  }
  return undefined
})()

const stuckFixture = Path.resolve(import.meta.dirname, "fixtures/stuck")

describe("the expops executable", () => {
  it("starts, prints its version and help, and exits 2 on bad usage", () => {
    const version = spawnCliSync(["--version"])
    assert.strictEqual(version.status, 0, version.stderr)
    assert.match(version.stdout, /expops v\d+\.\d+\.\d+/)
    // Answered before the CLI loads, as effect/cli answers it in-process (internal/version.test.ts).
    assert.strictEqual(version.stdout, `expops v${Cli.version}\n`)
    assert.strictEqual(spawnCliSync(["-v"]).stdout, version.stdout)
    const help = spawnCliSync(["--help"])
    assert.strictEqual(help.status, 0)
    assert.match(help.stdout, /USAGE/)
    const bad = spawnCliSync(["run", ".", "--fast"])
    assert.strictEqual(bad.status, 2)
    assert.match(bad.stderr, /--fast/)
    assert.strictEqual(bad.stdout, "")
  })

  it.skipIf(oldNode === undefined)("under an unsupported Node, says which Node it needs and how to run it (exit 2)", () => {
    const result = spawnSync(oldNode!.node, [bin, "--version"], { encoding: "utf8" })
    assert.strictEqual(result.status, 2, result.stderr)
    assert.include(result.stderr, `expops needs Node 22.19 or newer (Node 24 recommended); this is Node ${oldNode!.version}`)
    assert.include(result.stderr, "npx expops")
    assert.notInclude(result.stderr, "SyntaxError")
  })

  it("runs a project with its own copy of effect on that copy, the CLI included: one instance, so its schemas and services work", async () => {
    const dir = copyProject(undefined, { linked: false })
    hardLinkTree(Path.join(repoRoot, "node_modules/effect"), Path.join(dir, "node_modules/effect"))
    const result = await spawnCli(["run", dir, "--json"], { cwd: Path.dirname(dir) })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.isTrue(JSON.parse(result.stdout).processes.every((p: { status: string }) => p.status === "executed"))
  })

  it("runs a project from the directory it was started in: the report on stdout, progress on stderr, exit 0; a failed pipeline exits 1", async () => {
    const dir = copyProject()
    // The project named relative to the process's working directory; user code reads its files relative to the project.
    const ok = await spawnCli(["run", Path.basename(dir), "--json"], { cwd: Path.dirname(dir) })
    assert.strictEqual(ok.status, 0, ok.stderr)
    assert.isTrue(JSON.parse(ok.stdout).processes.every((p: { status: string }) => p.status === "executed"))
    assert.match(ok.stderr, /train_model: executed/)
    assert.isTrue(existsSync(Path.join(dir, ".expops")))

    editFile(Path.join(dir, "data/iris.csv"), "4.9,3,1.4,0.2,setosa", "4.9,three,1.4,0.2,setosa")
    const failed = await spawnCli(["run", dir, "--json"])
    assert.strictEqual(failed.status, 1, failed.stderr)
    assert.strictEqual(JSON.parse(failed.stdout).run.status, "failed")
    assert.match(failed.stderr, /load_data failed in step validate/)
  })

  it("SIGINT interrupts a run: the terminal says so, the run is recorded interrupted, finished entries are kept, the next run resumes from them", async () => {
    const dir = copyProject(stuckFixture)
    let signalled = false
    const result = await spawnCli(["run", dir, "--json"], {
      // The fixture's second process says when it is waiting, then waits until it is interrupted.
      onStderr: (text, child) => {
        if (!signalled && text.includes("waiting\n")) signalled = child.kill("SIGINT")
      }
    })
    assert.isTrue(signalled)
    assert.strictEqual(result.status, 130, result.stderr)
    assert.match(result.stderr, /second: interrupted after/)
    assert.match(result.stderr, /: interrupted in .*\n(.*\n)*  interrupted while second ran: the run is recorded/)
    const report = JSON.parse(result.stdout)
    assert.strictEqual(report.run.status, "interrupted")
    assert.deepStrictEqual(report.processes.map((p: { name: string; status: string }) => [p.name, p.status]), [["first", "executed"], ["second", "interrupted"]])
    const [first, second] = report.processes
    assert.deepStrictEqual(second.steps.map((s: { name: string; status: string }) => [s.name, s.status]), [["quick", "executed"]])
    // What finished is stored; what was interrupted is not.
    assert.sameMembers(manifestKeys(dir), [first.key, first.steps[0].key, second.steps[0].key])

    const listed = spawnCliSync(["runs", "ls", dir, "--json"])
    assert.strictEqual(JSON.parse(listed.stdout)[0].status, "interrupted")
    assert.strictEqual(JSON.parse(listed.stdout)[0].id, report.run.id)

    editFile(Path.join(dir, "configs/project_config.yaml"), "hang: \"yes\"", "hang: \"no\"")
    const resumed = await spawnCli(["run", dir, "--json"])
    assert.strictEqual(resumed.status, 0, resumed.stderr)
    const next = JSON.parse(resumed.stdout)
    assert.deepStrictEqual(next.processes.map((p: { name: string; status: string }) => [p.name, p.status]), [["first", "cached"], ["second", "executed"]])
    assert.deepStrictEqual(next.processes[1].steps.map((s: { name: string; status: string }) => [s.name, s.status]), [["quick", "cached"], ["wait", "executed"]])
  })

  it("a second SIGINT exits at once, even while the first waits on work that cannot be interrupted", async () => {
    const dir = copyProject(stuckFixture)
    editFile(Path.join(dir, "configs/project_config.yaml"), "hang: \"yes\"", "hang: \"uninterruptibly\"")
    let signals = 0
    const result = await spawnCli(["run", dir], {
      onStderr: (text, child) => {
        if (signals === 0 && text.includes("waiting\n")) {
          signals++
          child.kill("SIGINT")
          setTimeout(() => (signals++, child.kill("SIGINT")), 300)
        }
      }
    })
    assert.strictEqual(signals, 2)
    assert.strictEqual(result.status, 130, result.stderr)
  })
})
