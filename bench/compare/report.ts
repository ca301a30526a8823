/**
 * The readable table `npm run bench` prints (without `--json`).
 */

type Row = readonly [label: string, value: number | null | undefined, ratio?: string]

const fmt = (x: number | null | undefined): string => {
  if (x === null || x === undefined || Number.isNaN(x)) return "n/a"
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString("en-US")
  return String(Number(x.toPrecision(3)))
}

const ratio = (a: number | null | undefined, b: number | null | undefined): string =>
  a == null || b == null || b === 0 ? "" : `${(a / b).toFixed(2)}x`

const section = (title: string, unit: string, rows: ReadonlyArray<Row>, ratioHeader = ""): string => {
  const width = Math.max(...rows.map((r) => r[0].length), 10)
  const lines = [title]
  if (unit !== "" || ratioHeader !== "") lines.push(`  ${"".padEnd(width)}  ${unit.padStart(10)}  ${ratioHeader}`.trimEnd())
  for (const [label, value, r] of rows) lines.push(`  ${label.padEnd(width)}  ${fmt(value).padStart(10)}  ${r ?? ""}`.trimEnd())
  return lines.join("\n")
}

const failed = (title: string, s: any): string | undefined =>
  s?.error !== undefined ? `${title}\n  failed: ${s.error}` : s?.skipped !== undefined ? `${title}\n  skipped: ${s.skipped}` : undefined

export const table = (r: any): string => {
  const out: Array<string> = []
  const m = r.machine
  out.push(
    `ExpOps benchmarks, ${r.date}, ${r.mode} mode, ${r.durationSeconds} s`,
    `machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, load average ${m.loadAverage.start} -> ${m.loadAverage.end ?? "?"}`,
    "Medians over alternating rounds; the machine is shared, so expect noise.",
    ""
  )

  const h = r.hitOverhead
  out.push(failed("1. Cache-hit overhead per step", h) ?? section(
    `1. Cache-hit overhead per step, 1 KiB output, store of ${h.entries?.toLocaleString("en-US")} entries (${h.rounds} rounds x ${h.callsPerRound} hits)`,
    "us/hit",
    [
      ["ExpOps: Step + Cache + local store", h.expops, "1.00x"],
      [`joblib.Memory ${h.versions?.joblib ?? ""}`.trimEnd(), h.joblib, ratio(h.joblib, h.expops)],
      ["Effect PersistedCache, KVS file system", h.persistedCache, ratio(h.persistedCache, h.expops)],
      [`cacache ${h.versions?.cacache ?? ""}`.trimEnd(), h.cacache, ratio(h.cacache, h.expops)],
      ["floor: sync open+read+close", h.floorSyncRead, `${ratio(h.floorSyncRead, h.expops)} (ExpOps is ${ratio(h.expops, h.floorSyncRead)} of it)`],
      ["fs.promises.readFile", h.fsPromisesReadFile, ratio(h.fsPromisesReadFile, h.expops)],
      ["ExpOps on the in-memory store", h.expopsMemoryStore, ratio(h.expopsMemoryStore, h.expops)],
      ["local store getManifest alone", h.expopsStoreRead, ratio(h.expopsStoreRead, h.expops)]
    ],
    "vs ExpOps"
  ))
  out.push("")

  const l = r.largeHash
  out.push(failed("2. Hashing a large input", l) ?? section(
    `2. Hashing a large input: Float64Array of ${(l.bytes / 1e6).toFixed(0)} MB (${l.rounds} rounds)`,
    "GB/s",
    [
      ["ExpOps: step key path (hit)", l.expops, ratio(l.expops, l.nodeSha256)],
      ["CanonicalHash.digest alone", l.canonicalHash, ratio(l.canonicalHash, l.nodeSha256)],
      ["floor: node:crypto SHA-256", l.nodeSha256, "1.00x"],
      ["joblib.hash (numpy array, MD5)", l.joblib, ratio(l.joblib, l.nodeSha256)]
    ],
    "vs SHA-256 (higher is better)"
  ))
  out.push("")

  const s = r.recordsHash
  out.push(failed("3. Hashing structured input", s) ?? section(
    `3. Hashing structured input: ${s.records?.toLocaleString("en-US")} small records (${s.rounds} rounds)`,
    "ms",
    [
      ["ExpOps: step key path (hit)", s.expops, ratio(s.expops, s.jsonSha256)],
      ["CanonicalHash.digest alone", s.canonicalHash, ratio(s.canonicalHash, s.jsonSha256)],
      ["floor: JSON.stringify + SHA-256", s.jsonSha256, "1.00x"]
    ],
    "vs JSON + SHA-256 (lower is better)"
  ))
  out.push("")

  const p = r.warmPipeline
  out.push(failed("4. Pipeline of 1,000 cached steps", p) ?? section(
    `4. Pipeline of ${p.steps?.toLocaleString("en-US")} steps (${p.processes} processes), local backend (${p.rounds} rounds; cold: ${p.coldRounds})`,
    "ms",
    [
      ["warm, in-process (process hits)", p.inProcess],
      ["warm, expops run (CLI, start-up incl.)", p.cli],
      ["  expops --version (loading the CLI)", p.cliVersion],
      ["  empty Node process start-up", p.nodeStartup],
      ["processes miss, 1,000 steps hit, in-process", p.stepsHitInProcess],
      ["  per step, in-process (us)", p.stepsHitPerStepUs],
      ["processes miss, 1,000 steps hit, CLI", p.stepsHitCli],
      ["cold, cache on (1,010 entries stored)", p.coldCached],
      ["cold, cache off", p.coldNoCache],
      ["  cache cost per stored entry (us)", p.coldOverheadPerEntryUs]
    ]
  ))
  out.push("")

  const fo = r.fanout
  out.push(failed("5. Fan-out: 100 seeds x 10 processes", fo) ?? section(
    `5. Fan-out: 100 seeds x 10 processes (${fo.processes?.expanded?.toLocaleString("en-US")} processes once expanded; ${fo.rounds} rounds)`,
    "ms",
    [
      ["plan without the fan-out (11 processes)", fo.plan?.plain],
      ["plan with it: expand and validate", fo.plan?.fanout],
      ["  expansion overhead (target < 20 ms)", fo.plan?.overhead],
      ["fully cached run, in-memory store", fo.cachedRun?.memory?.fanout],
      ["  per branch (us)", fo.cachedRun?.memory?.perBranchUs],
      ["  per process without fan-out (us)", fo.cachedRun?.memory?.perPlainProcessUs],
      ["fully cached run, local backend", fo.cachedRun?.local?.fanout],
      ["  per branch (us)", fo.cachedRun?.local?.perBranchUs],
      ["  the 11 processes without fan-out", fo.cachedRun?.local?.plain]
    ]
  ))
  out.push("")

  const st = r.store
  out.push(failed("6. Storing outputs", st) ?? [
    section(`6. Storing outputs, local backend${st.source ? ` (from ${st.source})` : ""}`, "", [
      ["1 KiB entries/s, durable (fsync)", st.smallEntries?.durable],
      ["1 KiB entries/s, no fsync", st.smallEntries?.noFsync],
      ...(st.smallEntries?.floorWriteFileSync !== undefined
        ? [["  floor: writeFileSync, no fsync", st.smallEntries.floorWriteFileSync] as Row]
        : []),
      [`${st.largeOutput?.mib} MiB output: write MB/s`, st.largeOutput?.write, ratio(st.largeOutput?.write, st.largeOutput?.floorWrite)],
      ...(st.largeOutput?.floorWrite !== undefined ? [["  floor: write+fsync MB/s", st.largeOutput.floorWrite, "1.00x"] as Row] : []),
      [`${st.largeOutput?.mib} MiB output: read MB/s`, st.largeOutput?.read, ratio(st.largeOutput?.read, st.largeOutput?.floorReadVerify)],
      ...(st.largeOutput?.floorReadVerify !== undefined
        ? [["  floor: readFileSync + SHA-256 MB/s", st.largeOutput.floorReadVerify, "1.00x"] as Row]
        : []),
      ["  peak memory above baseline, write (MiB)", st.largeOutput?.writeExtraPeakMiB],
      ["  peak memory above baseline, read (MiB)", st.largeOutput?.readPeakMiB],
      ...(st.freshProcess !== undefined
        ? [
          [`${st.freshProcess.mib} MiB, fresh process: write MB/s`, st.freshProcess.write, ratio(st.freshProcess.write, st.freshProcess.floorWrite)] as Row,
          ["  floor: write+fsync MB/s", st.freshProcess.floorWrite, "1.00x"] as Row,
          [`${st.freshProcess.mib} MiB, fresh process: read MB/s`, st.freshProcess.read, ratio(st.freshProcess.read, st.freshProcess.floorReadVerify)] as Row,
          ["  floor: readFileSync + SHA-256 MB/s", st.freshProcess.floorReadVerify, "1.00x"] as Row,
          ["  peak memory above baseline, write (MiB)", st.freshProcess.writeExtraPeakMiB] as Row,
          ["  peak memory above baseline, read (MiB)", st.freshProcess.readPeakMiB] as Row
        ]
        : [])
    ], "vs floor")
  ].join("\n"))
  out.push("")

  const u = r.startUp
  if (u !== undefined) {
    out.push(failed("6. Start-up of the CLI", u) ?? section(
      `6. Start-up of the CLI, through packages/cli/dist/bin.js, fresh processes (${u.rounds} rounds)`,
      "ms",
      [
        ["expops --version", u.version, ratio(u.version, u.nodeStartup)],
        ["  floor: empty Node process (node -e 0)", u.nodeStartup, "1.00x"],
        ["quick start, fully cached expops run (replayed from its receipt)", u.quickstartCached, ratio(u.quickstartCached, u.nodeStartup)],
        ["the same run on the full path (EXPOPS_REPLAY=0)", u.quickstartCachedFullPath, ratio(u.quickstartCachedFullPath, u.nodeStartup)],
        ["  its floor: node importing effect/Effect, /Random, /Schema + @expops/core", u.quickstartImports, ratio(u.quickstartImports, u.nodeStartup)],
        ["the full path, module memo off (EXPOPS_MODULE_MEMO=0)", u.quickstartCachedNoMemo, ratio(u.quickstartCachedNoMemo, u.nodeStartup)],
        ["the full path, a copy importing the effect barrel", u.quickstartBarrelCached, ratio(u.quickstartBarrelCached, u.nodeStartup)]
      ],
      "vs empty Node"
    ))
    out.push("")
  }

  const cl = r.cluster
  if (cl !== undefined && cl.skipped === undefined) {
    out.push(failed("7. Cluster (PostgreSQL on loopback)", cl) ?? [
      section(`7. Cluster: ${cl.dispatch?.processes} no-op processes one at a time, per process`, "ms", [
        ["in-process", cl.dispatch?.inProcess],
        ["through the cluster (1 runner)", cl.dispatch?.cluster],
        ["  dispatch overhead (target <= 15 ms)", cl.dispatch?.overhead],
        ["  of which waiting (queuedMs, median)", cl.dispatch?.queuedMs],
        ["  running on the runner (median)", cl.dispatch?.onRunnerMs]
      ]),
      section(`   ${cl.speedUp?.processes} CPU-bound processes of ~${cl.speedUp?.processMs} ms, one executor per runner`, "ms", [
        ["1 runner", cl.speedUp?.oneRunner],
        ["3 runners", cl.speedUp?.threeRunners],
        ["  speed-up", cl.speedUp?.speedUp],
        [`  bound by the placement (${(cl.speedUp?.placement ?? []).join("/")} processes per runner)`, cl.speedUp?.placementBound]
      ])
    ].join("\n"))
    out.push("")
  }

  if (Array.isArray(r.targets)) {
    out.push("Targets")
    for (const t of r.targets) {
      out.push(`  ${t.met === null ? "n/a " : t.met ? "met " : "MISS"}  ${t.name}: ${fmt(t.value)} (target ${t.target})`)
    }
    out.push("")
  }
  for (const [name, s] of [["core (bench/core.ts)", r.core], ["local (bench/local.ts)", r.local], ["gcs (bench/gcs.ts)", r.gcs]] as const) {
    if (s === undefined) continue
    out.push(failed(name, s) ?? `${name}\n${JSON.stringify(s, null, 2).replace(/^/gm, "  ")}`)
    out.push("")
  }
  if (Array.isArray(r.notes) && r.notes.length > 0) {
    out.push("Notes")
    for (const n of r.notes) out.push(`  - ${n}`)
  }
  return out.join("\n")
}
