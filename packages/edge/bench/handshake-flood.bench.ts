/**
 * `npm run bench:handshake-flood` (attack-protection.md §4.4 B3, goal G4): a
 * ClientHello replay flood from 127.0.0.2 (a child process) against a keyless edge on loopback
 * (one key server, ECDSA P-256), while a good client on 127.0.0.3 does resumed
 * and full handshakes. Prints key-server signatures/s against the per-IP
 * budget, the good client's success rates and full-handshake latency against
 * a baseline measured in the same run without the flood, and the shed counts.
 *
 * Bounded and self-stopping: BENCH_SECONDS (default 8) of flood, at most
 * BENCH_MAX_CONNECTIONS (default 20000) replayed ClientHellos,
 * BENCH_CONCURRENCY (default 32) at a time; the budget is BENCH_RATE (default
 * 50) full handshakes/s per IP with a burst of 20.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  captureClientHello,
  startKeylessEdge,
  type ReplayResult,
  tlsGet,
  type HandshakeOutcome,
} from '../test/handshake-harness.ts'

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8)
const MAX_CONNECTIONS = Number(process.env['BENCH_MAX_CONNECTIONS'] ?? 20_000)
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 32)
const RATE = Number(process.env['BENCH_RATE'] ?? 50)
const BURST = 20

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Runs the replayer in a child process (killed by PID at the deadline). */
function floodFrom(
  port: number,
  hello: Buffer,
  maxMs: number,
): Promise<ReplayResult & { seconds: number }> {
  const script = fileURLToPath(new URL('./handshake-replayer.ts', import.meta.url))
  const child = spawn(
    process.execPath,
    [
      script,
      String(port),
      hello.toString('hex'),
      '127.0.0.2',
      String(MAX_CONNECTIONS),
      String(maxMs),
      String(CONCURRENCY),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const kill = setTimeout(() => child.kill('SIGKILL'), maxMs + 20_000)
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(kill)
      if (code === 0) resolve(JSON.parse(out) as ReplayResult & { seconds: number })
      else reject(new Error(`replayer exited with ${code}`))
    })
  })
}

const w = await startKeylessEdge({
  handshakes: {
    perIp: { rate: RATE, burst: BURST },
    perPrefix: { rate: 100_000, burst: 100_000 },
    perZone: { rate: 100_000, burst: 100_000 },
    perNode: { rate: 100_000, burst: 100_000 },
  },
})
const hardStop = setTimeout(
  () => {
    console.error('bench:handshake-flood: hard time limit reached')
    process.exit(2)
  },
  (SECONDS + 90) * 1000,
)
hardStop.unref()

try {
  const ca = w.siteCaPem
  // Baseline (no flood): full handshakes and resumptions from the good IP, 5 per second.
  const first = await tlsGet(w.port, '127.0.0.3', { ca })
  if (!first.ok || first.session === undefined)
    throw new Error(`good client failed: ${first.error}`)
  let session: Buffer = first.session
  const baseFull: HandshakeOutcome[] = []
  const baseResumed: HandshakeOutcome[] = []
  for (let i = 0; i < 20; i++) {
    baseFull.push(await tlsGet(w.port, '127.0.0.3', { ca }))
    const r = await tlsGet(w.port, '127.0.0.3', { ca, session })
    if (r.session) session = r.session
    baseResumed.push(r)
    await sleep(200)
  }

  // Flood, with the good client alternating resumed and full handshakes (5 full/s).
  const hello = await captureClientHello('site.test')
  const unknownHello = await captureClientHello('unknown.test')
  const full: HandshakeOutcome[] = []
  const resumed: HandshakeOutcome[] = []
  let running = true
  const goodLoop = (async () => {
    while (running) {
      full.push(await tlsGet(w.port, '127.0.0.3', { ca }))
      const r = await tlsGet(w.port, '127.0.0.3', { ca, session })
      if (r.session) session = r.session
      resumed.push(r)
      await sleep(200)
    }
  })()
  await sleep(300)
  const sig0 = await w.ksSignatures()
  const flood = await floodFrom(w.port, hello, SECONDS * 1000)
  // The replayer's own window (its process start-up is not flood time).
  const floodSeconds = flood.seconds
  running = false
  await goodLoop
  await sleep(300)
  const signatures = (await w.ksSignatures()) - sig0
  // Full handshakes the good client made while the flood ran sign too.
  const goodFullDuring = full.filter((r) => r.ok).length
  const floodSigs = Math.max(0, signatures - goodFullDuring)
  const floodRate = (floodSigs - BURST) / floodSeconds

  // Unknown SNI: 2 s of replays must cost no signature at all.
  const sigU = await w.ksSignatures()
  const unknown = await floodFrom(w.port, unknownHello, 2000)
  const unknownSigs = (await w.ksSignatures()) - sigU
  const shed = await w.shed()

  const ok = (xs: HandshakeOutcome[]): number => (100 * xs.filter((r) => r.ok).length) / xs.length
  const res = (xs: HandshakeOutcome[]): number =>
    (100 * xs.filter((r) => r.ok && r.resumed).length) / xs.length
  const lat = (xs: HandshakeOutcome[]): number[] => xs.filter((r) => r.ok).map((r) => r.ms)
  const baseP50 = quantile(lat(baseFull), 0.5)
  const p50 = quantile(lat(full), 0.5)
  const p99 = quantile(lat(full), 0.99)
  const within2x = (100 * full.filter((r) => r.ok && r.ms <= 2 * baseP50).length) / full.length

  const rows: [string, string, string][] = [
    [
      'replayed ClientHellos offered (127.0.0.2)',
      `${(flood.attempts / floodSeconds).toFixed(0)}/s (${flood.attempts} in ${floodSeconds.toFixed(1)} s)`,
      '',
    ],
    [
      'key-server signatures/s from the flood vs per-IP budget',
      `${floodRate.toFixed(1)}/s vs ${RATE}/s (${((100 * floodRate) / RATE).toFixed(1)} %)`,
      'budget ±5 %',
    ],
    [
      'signatures from an unknown-SNI flood',
      `${unknownSigs} (${unknown.attempts} ClientHellos)`,
      '0',
    ],
    [
      'good client resumed handshakes OK (during flood)',
      `${res(resumed).toFixed(1)} % of ${resumed.length} (baseline ${res(baseResumed).toFixed(1)} %)`,
      '100 %',
    ],
    [
      'good client full handshakes OK (during flood)',
      `${ok(full).toFixed(1)} % of ${full.length} (baseline ${ok(baseFull).toFixed(1)} %)`,
      '≥ 99 %',
    ],
    [
      'good full handshake + GET latency p50 / p99',
      `${p50.toFixed(1)} / ${p99.toFixed(1)} ms vs baseline p50 ${baseP50.toFixed(1)} ms (${(p50 / baseP50).toFixed(2)}×); ${within2x.toFixed(0)} % within 2× baseline`,
      '≤ 2× baseline',
    ],
    [
      'shed (edge counter outpost_edge_tls_handshake_shed_total)',
      Object.entries(shed)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || 'none',
      '',
    ],
  ]
  console.log(
    `\nbench:handshake-flood (Node ${process.versions.node}, ${SECONDS} s flood, concurrency ${CONCURRENCY})\n`,
  )
  console.log('| measure | result | goal (G4) |\n|---|---|---|')
  for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`)
  console.log(
    JSON.stringify({
      floodAttempts: flood.attempts,
      floodSeconds,
      signatures,
      floodRate,
      budget: RATE,
      unknownSigs,
      resumedOk: res(resumed),
      fullOk: ok(full),
      p50,
      p99,
      baseP50,
      shed,
    }),
  )
} finally {
  await w.close()
}
