/**
 * `npm run bench:tls`: Outpost's TLS 1.3 server (`outpost tls-demo`) against Node's native
 * TLS (`native-server.ts`, OpenSSL) in the SAME run, with the SAME load generator and the
 * same ECDSA P-256 certificate, each server a single process on 127.0.0.1:
 *
 *   1. full handshakes/s        h2load --h1 -n N -c 30 -m 1 against --connection-close
 *                               servers with tickets off (h2load resumes sessions when it
 *                               reconnects); Node client if no h2load
 *   2. full handshakes/s, keyless  ours signing through @outpost/keyserver on loopback
 *   3. resumed handshakes/s     Node tls.connect clients passing `session` (newest ticket)
 *   4. bulk throughput          one connection, N MiB echoed (tls-demo --echo-port)
 *   5. memory per idle connection  2,000 idle TLS connections; server RSS and JS heap delta
 *   6. CPU profile              --cpu-prof on our server during a handshake run
 *
 * Bounded (every phase has a fixed request count or duration) and self-stopping; prints a
 * Markdown table (ours, native, ratio, target) and writes it with the raw numbers and the
 * profile summary to bench-results/ (gitignored).
 *
 *   node packages/tls/bench/bench.ts [--quick] [--only handshake,keyless,resumed,bulk,idle,profile]
 */
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir, cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { execFileSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { tlsDemoCommand } from '@outpost/cli/tls-demo'
import { writeTestPki, type CertSet } from '../test/interop/test-pki.ts'
import {
  spawnServer,
  startTlsDemo,
  tlsDemoEchoPort,
  REPO_ROOT,
  type RunningServer,
} from '../test/interop/servers.ts'
import { findExecutable } from '../test/interop/tools.ts'
import { h2load, connectionRate, bulkEcho, openIdle, type Target } from './load.ts'
import { summariseProfile, profileMarkdown, type CpuProfile } from './profile.ts'
import { startBenchKeyServer } from './keyless.ts'
import { defaultBackend, native } from '../src/crypto/native.ts'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench-results') },
  },
  strict: true,
})
const quick = args.quick
const phases = new Set(
  (args.only ?? 'handshake,keyless,resumed,bulk,idle,profile').split(',').map((s) => s.trim()),
)

/**
 * Every server is warmed up before its measured window with the same load: 3,000
 * handshakes, 6 s of resumptions, 64 MiB of echo bring V8 to its steady state.
 * The former 300 handshakes (0.5 s of resumptions) left TurboFan and Maglev
 * compiling inside the window (~17 % of our server's CPU there); after 3 s of
 * resumptions our server still spent ~25 % more CPU per connection in the next 3 s
 * than later (docs/tls-bench.md).
 */
const sizes = {
  handshakeRequests: quick ? 1000 : 2000,
  handshakeReps: quick ? 1 : 3,
  /** Alternating windows per side in the handshake phases (both servers running). */
  handshakeRounds: quick ? 2 : 8,
  warmup: 3000,
  resumeWarmupMs: 6000,
  resumeMs: quick ? 2000 : 4000,
  nodeClientConcurrency: 16,
  bulkWarmupMiB: 64,
  bulkMiB: quick ? 32 : 256,
  idleConnections: quick ? 500 : 2000,
}

interface Row {
  readonly metric: string
  readonly unit: string
  readonly ours: number | undefined
  readonly native: number | undefined
  /** ours / native, or native / ours when lower is better. */
  readonly target?: string
  readonly lowerIsBetter?: boolean
  readonly note?: string
}
const rows: Row[] = []
const notes: string[] = []
const log = (s: string): void => {
  process.stderr.write(`${s}\n`)
}

const demoOptions = tlsDemoCommand.options ?? {}
const oursHas = (flag: string): boolean => flag in demoOptions
const oursRuns = tlsDemoCommand.run !== undefined

type Side = 'ours' | 'native'

interface ServerOpts {
  /** Session tickets per full handshake; 0 makes every connection a full handshake. */
  readonly tickets?: number
  /** Ours only: sign on a key server (these args) instead of the local key. */
  readonly keyless?: readonly string[]
  readonly connectionClose?: boolean
  readonly echo?: boolean
  readonly nodeArgs?: readonly string[]
  readonly extraArgs?: readonly string[]
}

async function start(side: Side, cert: CertSet, o: ServerOpts): Promise<RunningServer> {
  if (side === 'ours') {
    return startTlsDemo({
      entry: 'direct',
      certs: [o.keyless !== undefined ? { chainFile: cert.chainFile } : cert],
      connectionClose: o.connectionClose ?? false,
      tickets: o.tickets ?? 2,
      ...(o.echo === true ? { echoPort: 0 } : {}),
      extraArgs: [...(o.keyless ?? []), ...(o.extraArgs ?? [])],
      nodeArgs: o.nodeArgs ?? [],
    })
  }
  return spawnServer({
    command: process.execPath,
    args: [
      ...(o.nodeArgs ?? []),
      join(import.meta.dirname, 'native-server.ts'),
      '--listen',
      '127.0.0.1:0',
      '--cert',
      cert.chainFile,
      '--key',
      cert.keyFile,
      ...(o.connectionClose === true ? ['--connection-close'] : []),
      ...(o.echo === true ? ['--echo-port', '0'] : []),
      ...(o.tickets === 0 ? ['--tickets', '0'] : []),
    ],
  })
}

/** Servers running now and the temp dir, for cleanup on SIGINT/SIGTERM. */
const running = new Set<RunningServer>()
let workDir: string | undefined
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping servers`)
    void Promise.all([...running].map((s) => s.stop(1000))).finally(() => {
      if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
      process.exit(130)
    })
  })
}

async function withServer<T>(
  side: Side,
  cert: CertSet,
  o: ServerOpts,
  fn: (t: Target, s: RunningServer) => Promise<T>,
): Promise<T> {
  const s = await start(side, cert, o)
  running.add(s)
  try {
    return await fn({ host: s.host, port: s.port }, s)
  } finally {
    await s.stop()
    running.delete(s)
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? Number.NaN
}

// ------------------------------------------------------------ 1. handshakes

const h2loadBin = findExecutable('h2load')

async function fullHandshakes(t: Target, n: number): Promise<{ perSec: number; what: string }> {
  if (h2loadBin !== undefined) {
    const r = await h2load(h2loadBin, t, n)
    if (r.failed > 0 || r.succeeded < n) {
      throw new Error(`h2load: ${r.failed} failed, ${r.succeeded}/${n} succeeded`)
    }
    return { perSec: r.perSec, what: r.negotiated }
  }
  const r = await connectionRate(t, {
    ms: (n / 1000) * 1000,
    concurrency: sizes.nodeClientConcurrency,
    resume: false,
  })
  if (r.errors > 0) throw new Error(`Node client: ${r.errors} connection errors`)
  return { perSec: r.perSec, what: 'Node client' }
}

/**
 * CPU seconds (user + system) the process has used, from /proc/<pid>/stat (fields 14 and
 * 15, in clock ticks of 1/100 s on Linux). Unlike a rate, CPU per operation hardly changes
 * when other work shares the machine, so it is the robust figure on a busy box.
 */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): utime is field 14 -> index 11, stime 15 -> index 12.
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Pushes a "server CPU per operation" row (lower is better) from per-side samples in ms. */
function cpuRow(metric: string, cpu: Record<Side, number[]>, note: string): void {
  rows.push({
    metric,
    unit: 'ms CPU/op',
    ours: cpu.ours.length > 0 ? median(cpu.ours) : undefined,
    native: cpu.native.length > 0 ? median(cpu.native) : undefined,
    lowerIsBetter: true,
    target: '≥ 1.0x',
    note,
  })
}

/**
 * Both servers run side by side for the whole phase (each started once, warmed up with the
 * same load), and the measured windows alternate between them: `sizes.handshakeRounds`
 * rounds, each one window per side in alternating order. A window is short (2,000
 * handshakes, 1–2 s), so the load of a shared machine moves little within a round; the row
 * gives each side's median window, and the note the median and range of the per-round
 * ratios (ours ÷ native in the same round). Restarting the servers per window (as before
 * 2026-12-07, 21:00 UTC) measured three windows per side, minutes apart.
 */
async function handshakePhase(cert: CertSet, metric: string, oursExtra: ServerOpts): Promise<void> {
  const per: Record<Side, number[]> = { ours: [], native: [] }
  const cpu: Record<Side, number[]> = { ours: [], native: [] }
  const what: Record<Side, string> = { ours: '', native: '' }
  const sides: Side[] = oursRuns ? ['ours', 'native'] : ['native']
  const servers = new Map<Side, RunningServer>()
  try {
    for (const side of sides) {
      // h2load resumes TLS sessions when it reconnects: without tickets every
      // connection is a full handshake.
      const s = await start(side, cert, {
        connectionClose: true,
        tickets: 0,
        ...(side === 'ours' ? oursExtra : {}),
      })
      running.add(s)
      servers.set(side, s)
    }
    for (const side of sides) {
      const s = servers.get(side) as RunningServer
      await fullHandshakes({ host: s.host, port: s.port }, sizes.warmup)
    }
    const ratios: number[] = []
    for (let round = 0; round < sizes.handshakeRounds; round++) {
      const rate: Partial<Record<Side, number>> = {}
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
        const s = servers.get(side) as RunningServer
        const c0 = cpuSeconds(s.pid)
        const r = await fullHandshakes({ host: s.host, port: s.port }, sizes.handshakeRequests)
        const ms = ((cpuSeconds(s.pid) - c0) * 1000) / sizes.handshakeRequests
        per[side].push(r.perSec)
        cpu[side].push(ms)
        rate[side] = r.perSec
        what[side] = r.what
        log(
          `  ${metric} ${side} round ${round + 1}: ${r.perSec.toFixed(0)}/s, ` +
            `${ms.toFixed(3)} ms server CPU each (${r.what})`,
        )
      }
      if (rate.ours !== undefined && rate.native !== undefined) ratios.push(rate.ours / rate.native)
    }
    const sorted = [...ratios].sort((a, b) => a - b)
    const spread =
      sorted.length > 0
        ? `; per-round ratio median ${median(sorted).toFixed(2)}x (${(sorted[0] as number).toFixed(2)}–${(sorted.at(-1) as number).toFixed(2)}), above 1.0 in ${sorted.filter((r) => r >= 1).length} of ${sorted.length}`
        : ''
    rows.push({
      metric,
      unit: 'handshakes/s',
      ours: per.ours.length > 0 ? median(per.ours) : undefined,
      native: median(per.native),
      target: '≥ 1.0x',
      note: `${h2loadBin !== undefined ? `h2load -n ${sizes.handshakeRequests} -c 30 -m 1` : 'Node client'}, both servers running, ${sizes.handshakeRounds} alternating rounds, median window${spread}; ${what.ours || what.native}`,
    })
    cpuRow(
      `${metric}: server CPU per handshake`,
      cpu,
      'user+sys of the server process / handshakes (/proc/<pid>/stat), median window',
    )
  } finally {
    for (const s of servers.values()) {
      await s.stop()
      running.delete(s)
    }
  }
}

/**
 * Runs `fn` for each side, `sizes.handshakeReps` times, alternating which side goes first,
 * so slow drift in machine load (other work on a shared box) hits both sides alike.
 */
async function alternate(
  fn: (side: Side, rep: number) => Promise<void>,
  sides: Side[] = oursRuns ? ['ours', 'native'] : ['native'],
): Promise<void> {
  for (let rep = 0; rep < sizes.handshakeReps; rep++) {
    for (const side of rep % 2 === 0 ? sides : [...sides].reverse()) await fn(side, rep)
  }
}

// -------------------------------------------------------------- 3. resumed

async function resumedPhase(cert: CertSet): Promise<void> {
  const per: Record<Side, number[]> = { ours: [], native: [] }
  const cpu: Record<Side, number[]> = { ours: [], native: [] }
  const share: Record<Side, number[]> = { ours: [], native: [] }
  await alternate(async (side, rep) => {
    await withServer(side, cert, { connectionClose: true }, async (t, s) => {
      await connectionRate(t, {
        ms: sizes.resumeWarmupMs,
        concurrency: sizes.nodeClientConcurrency,
        resume: true,
      })
      const c0 = cpuSeconds(s.pid)
      const r = await connectionRate(t, {
        ms: sizes.resumeMs,
        concurrency: sizes.nodeClientConcurrency,
        resume: true,
      })
      if (r.completed > 0) cpu[side].push(((cpuSeconds(s.pid) - c0) * 1000) / r.completed)
      const rate = r.completed > 0 ? r.resumed / r.completed : 0
      per[side].push(r.resumed / r.seconds)
      share[side].push(rate)
      log(
        `  resumed ${side} rep ${rep + 1}: ${(r.resumed / r.seconds).toFixed(0)}/s resumed ` +
          `(${r.completed} connections, ${(rate * 100).toFixed(1)} % resumed, ${r.errors} errors)`,
      )
    })
  })
  const pct = (xs: number[]): string =>
    xs.length > 0 ? `${(Math.min(...xs) * 100).toFixed(0)} %` : '-'
  rows.push({
    metric: 'resumed handshakes (PSK-DHE, ticket)',
    unit: 'handshakes/s',
    ours: per.ours.length > 0 ? median(per.ours) : undefined,
    native: median(per.native),
    target: '≥ 1.0x',
    note:
      `Node client, ${sizes.nodeClientConcurrency} loops, ${sizes.resumeMs / 1000} s, median of ${sizes.handshakeReps}; ` +
      `lowest resumed share ours ${pct(share.ours)} / native ${pct(share.native)}`,
  })
  cpuRow(
    'resumed handshakes: server CPU per connection',
    cpu,
    'user+sys of the server process / connections (handshake + GET + close)',
  )
}

// ----------------------------------------------------------------- 4. bulk

async function bulkPhase(cert: CertSet): Promise<void> {
  const bytes = sizes.bulkMiB * 1048576
  const per: Record<Side, number[]> = { ours: [], native: [] }
  const cpu: Record<Side, number[]> = { ours: [], native: [] }
  const withOurs = oursRuns && oursHas('echo-port')
  if (!withOurs) notes.push('bulk: tls-demo has no echo server; ours not measured.')
  await alternate(
    async (side, rep) => {
      await withServer(side, cert, { echo: true }, async (_, s) => {
        const t = { host: '127.0.0.1', port: await tlsDemoEchoPort(s) }
        await bulkEcho(t, sizes.bulkWarmupMiB * 1048576)
        const c0 = cpuSeconds(s.pid)
        const r = await bulkEcho(t, bytes)
        cpu[side].push(((cpuSeconds(s.pid) - c0) * 1000) / sizes.bulkMiB)
        per[side].push(r.mibPerSec)
        log(
          `  bulk ${side} rep ${rep + 1}: ${r.mibPerSec.toFixed(1)} MiB/s (${sizes.bulkMiB} MiB in ${r.seconds.toFixed(2)} s)`,
        )
      })
    },
    withOurs ? ['ours', 'native'] : ['native'],
  )
  rows.push({
    metric: `bulk echo, one connection (${sizes.bulkMiB} MiB up + down)`,
    unit: 'MiB/s',
    ours: per.ours.length > 0 ? median(per.ours) : undefined,
    native: median(per.native),
    target: '≥ 0.9x',
    note: `client writes 64 KiB chunks, server echoes; payload MiB/s one way; median of ${sizes.handshakeReps}`,
  })
  cpuRow(
    'bulk echo: server CPU per MiB (decrypt + encrypt)',
    cpu,
    'user+sys of the server process / MiB echoed',
  )
}

// ----------------------------------------------------------------- 5. idle

interface MemSample {
  readonly rss: number
  readonly heapUsed: number
}

/** Server RSS from /proc and JS heap from a diagnostic report written on SIGUSR2. */
async function sampleMemory(s: RunningServer, reportDir: string): Promise<MemSample> {
  const status = readFileSync(`/proc/${s.pid}/status`, 'utf8')
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN)
  const before = new Set(readdirSync(reportDir))
  s.child.kill('SIGUSR2')
  let heapUsed = Number.NaN
  for (let i = 0; i < 100; i++) {
    await sleep(50)
    const fresh = readdirSync(reportDir).filter((f) => !before.has(f))
    if (fresh.length > 0) {
      await sleep(100)
      try {
        const rep = JSON.parse(readFileSync(join(reportDir, fresh[0]!), 'utf8')) as {
          javascriptHeap?: { usedMemory?: number }
        }
        heapUsed = rep.javascriptHeap?.usedMemory ?? Number.NaN
        break
      } catch {
        // still being written
      }
    }
  }
  return { rss: rssKb * 1024, heapUsed }
}

async function idlePhase(cert: CertSet, work: string): Promise<void> {
  const n = sizes.idleConnections
  const res: Partial<Record<Side, { rss: number; heap: number; open: number }>> = {}
  for (const side of oursRuns ? (['ours', 'native'] as const) : (['native'] as const)) {
    const reportDir = join(work, `reports-${side}`)
    mkdirSync(reportDir, { recursive: true })
    const nodeArgs = [
      '--report-on-signal',
      '--report-signal=SIGUSR2',
      `--report-directory=${reportDir}`,
      '--report-compact',
    ]
    await withServer(side, cert, { nodeArgs }, async (t, s) => {
      const warm = await openIdle(t, 50)
      for (const x of warm.sockets) x.destroy()
      await sleep(500)
      const m0 = await sampleMemory(s, reportDir)
      const idle = await openIdle(t, n)
      await sleep(1000)
      const open = idle.sockets.filter((x) => !x.destroyed).length
      const m1 = await sampleMemory(s, reportDir)
      for (const x of idle.sockets) x.destroy()
      const per = { rss: (m1.rss - m0.rss) / n, heap: (m1.heapUsed - m0.heapUsed) / n, open }
      res[side] = per
      log(
        `  idle ${side}: ${n} connections (${idle.errors} failed, ${open} still open): ` +
          `RSS +${(per.rss / 1024).toFixed(1)} KiB/conn, heap +${(per.heap / 1024).toFixed(1)} KiB/conn`,
      )
    })
  }
  const kib = (x: number | undefined): number | undefined =>
    x === undefined ? undefined : x / 1024
  rows.push({
    metric: `memory per idle connection: RSS (${n} connections)`,
    unit: 'KiB/conn',
    ours: kib(res.ours?.rss),
    native: kib(res.native?.rss),
    lowerIsBetter: true,
    note: `server process VmRSS delta / ${n}; still open after 1 s: ours ${res.ours?.open ?? '-'}, native ${res.native?.open ?? '-'}`,
  })
  rows.push({
    metric: 'memory per idle connection: JS heap used',
    unit: 'KiB/conn',
    ours: kib(res.ours?.heap),
    native: kib(res.native?.heap),
    lowerIsBetter: true,
    note: 'diagnostic report javascriptHeap.usedMemory delta (no forced GC); native TLS state lives outside the JS heap',
  })
}

// -------------------------------------------------------------- 6. profile

async function profilePhase(cert: CertSet, work: string): Promise<string | undefined> {
  if (!oursRuns) return undefined
  const dir = join(work, 'cpuprof')
  mkdirSync(dir, { recursive: true })
  await withServer(
    'ours',
    cert,
    { connectionClose: true, tickets: 0, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] },
    async (t) => {
      await fullHandshakes(t, sizes.handshakeRequests)
    },
  )
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
  if (files.length === 0) {
    notes.push('profile: the server wrote no .cpuprofile (does tls-demo exit cleanly on SIGTERM?)')
    return undefined
  }
  const prof = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as CpuProfile
  return profileMarkdown(summariseProfile(prof, 20))
}

// ------------------------------------------------------------------ report

function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '-'
  return x >= 100 ? x.toFixed(0) : x.toFixed(1)
}

function table(): string {
  const lines = [
    '| metric | unit | Outpost (ours) | Node native | ratio | target |',
    '| --- | --- | ---: | ---: | ---: | --- |',
  ]
  for (const r of rows) {
    let ratio = '-'
    if (r.ours !== undefined && r.native !== undefined && r.native !== 0 && r.ours !== 0) {
      ratio = `${(r.lowerIsBetter === true ? r.native / r.ours : r.ours / r.native).toFixed(2)}x`
    }
    lines.push(
      `| ${r.metric} | ${r.unit} | ${fmt(r.ours)} | ${fmt(r.native)} | ${ratio} | ${r.target ?? (r.lowerIsBetter === true ? 'native/ours' : '')} |`,
    )
  }
  return lines.join('\n') + '\n'
}

function machine(): string {
  const cpu = cpus()
  const tool = (cmd: string, a: string[]): string => {
    try {
      return execFileSync(cmd, a, { encoding: 'utf8' }).split('\n')[0]?.trim() ?? '?'
    } catch {
      return 'absent'
    }
  }
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; load generator on the same machine`,
    `- Node ${process.version}, OpenSSL ${process.versions.openssl} (native side and Node clients)`,
    `- h2load: ${h2loadBin !== undefined ? tool(h2loadBin, ['--version']) : 'absent (Node client used)'}`,
    `- certificate: ECDSA P-256 leaf + CA chain; both servers single-process on 127.0.0.1`,
    `- ours: crypto backend ${defaultBackend}${native !== undefined ? ` (native addon over ${native.openssl})` : ' (node:crypto; addon not built or OUTPOST_TLS_NATIVE=0)'}`,
    `- warm-up per server before each measured window: ${sizes.warmup} handshakes, ${sizes.resumeWarmupMs} ms of resumptions, ${sizes.bulkWarmupMiB} MiB of echo`,
    `- sizes: ${JSON.stringify(sizes)}`,
  ].join('\n')
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'outpost-bench-'))
  workDir = work
  try {
    const pki = await writeTestPki(join(work, 'pki'))
    const cert = pki.ecdsa
    if (!oursRuns) notes.push('tls-demo is not implemented yet: only the native side was measured.')
    if (phases.has('handshake')) {
      log('full handshakes...')
      await handshakePhase(cert, 'full handshakes (ECDSA P-256, local signer)', {})
    }
    if (phases.has('keyless')) {
      if (!oursRuns || !oursHas('key-server')) {
        notes.push('keyless: tls-demo has no --key-server; not measured.')
      } else {
        log('full handshakes, keyless...')
        const ksDir = join(work, 'keyserver')
        mkdirSync(ksDir, { recursive: true, mode: 0o700 })
        const ks = await startBenchKeyServer(ksDir, cert.keyFile)
        try {
          await handshakePhase(
            cert,
            'full handshakes, keyless (key server on loopback, in the bench process)',
            { keyless: ks.demoArgs },
          )
        } finally {
          await ks.close()
        }
      }
    }
    if (phases.has('resumed')) {
      log('resumed handshakes...')
      await resumedPhase(cert)
    }
    if (phases.has('bulk')) {
      log('bulk...')
      await bulkPhase(cert)
    }
    if (phases.has('idle')) {
      log('idle connections...')
      await idlePhase(cert, work)
    }
    let profile: string | undefined
    if (phases.has('profile')) {
      log('cpu profile...')
      profile = await profilePhase(cert, work)
    }
    const report = [
      '# TLS benchmark: Outpost tls-demo vs Node native TLS',
      '',
      machine(),
      '',
      table(),
      '',
      // How each rate row was measured (load, windows, per-round ratios).
      ...rows
        .filter((r) => r.note !== undefined && !r.lowerIsBetter)
        .map((r) => `- ${r.metric}: ${String(r.note)}`),
      ...notes.map((n) => `- ${n}`),
      ...(profile !== undefined
        ? ['', '## Where our handshake time goes (self time, --cpu-prof)', '', profile]
        : []),
    ].join('\n')
    process.stdout.write(report + '\n')
    mkdirSync(args.out, { recursive: true })
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    writeFileSync(join(args.out, `tls-bench-${stamp}.md`), report + '\n')
    writeFileSync(
      join(args.out, `tls-bench-${stamp}.json`),
      JSON.stringify({ sizes, rows, notes }, null, 2) + '\n',
    )
    log(`written: ${join(args.out, `tls-bench-${stamp}.md`)}`)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
