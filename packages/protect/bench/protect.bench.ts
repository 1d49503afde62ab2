/**
 * `npm run bench:protect`: attack protection on loopback, bounded and self-stopping
 * (every load has a request count or a deadline; children are killed by PID).
 *
 *  1. B1 reject vs serve on one core: the real edge in its own process (taskset core 0)
 *     proxying to a Node origin (this process, core 1) vs answering 429 from the GCRA
 *     limiter; h2load --h1 (core 1). The same for nginx 1 worker (proxy_pass vs limit_req).
 *  2. B2 collateral and time to mitigate: a flood from 127.0.0.2 (a child process) and a
 *     good client at 10 r/s from 127.0.0.3, through the edge.
 *  3. Clearance token verification µs/op (valid and forged), in process.
 *  4. B6 challenge solve time in Chromium (1× and 4× CPU throttle) and the no-JS pass rate.
 *  5. B3 key-server signatures/s under a ClientHello replay flood against a keyless edge
 *     (packages/edge/bench/handshake-flood.bench.ts as a child; BENCH_FLOOD_SECONDS, 5).
 *
 * Env: BENCH_REQUESTS (h2load requests per serve run, 5× that per reject run, default 20000),
 * BENCH_B1_ROUNDS (5: B1's loads alternate over this many rounds, medians), BENCH_FLOOD_MS (3000),
 * BENCH_BROWSER_RUNS (10), BENCH_EDGE_CHILD (another edge-child.ts, e.g. an older checkout's,
 * for A/B runs), BENCH_EDGE_NODE_ARGS (extra node flags for the edge, e.g. `--cpu-prof`).
 * `--only b1` runs part 1 only. Prints one table and a JSON line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { KeyRing, Protection, issueClearance, verifyClearance } from '../src/index.ts'
import { hasChromium, launch, mean, solveRun, startSite } from '../test/browser.ts'
import { hasNginx, startNginx } from '../test/nginx.ts'

const N = Number(process.env['BENCH_REQUESTS'] ?? 20_000)
const FLOOD_MS = Number(process.env['BENCH_FLOOD_MS'] ?? 3000)
const RUNS = Number(process.env['BENCH_BROWSER_RUNS'] ?? 10)
const ROUNDS = Number(process.env['BENCH_B1_ROUNDS'] ?? 5)
const H2LOAD = '/usr/bin/h2load'
const argv = process.argv.slice(2)
const onlyAt = argv.indexOf('--only')
const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined
if (only !== undefined && only !== 'b1') {
  console.error(`bench:protect: --only takes "b1", not ${JSON.stringify(only)}`)
  process.exit(2)
}
const here = import.meta.dirname
const children = new Set<ChildProcess>()
const cleanup = (): void => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
}
process.once('exit', cleanup)
const deadline = setTimeout(() => {
  console.error('bench:protect: 420 s deadline reached, stopping')
  cleanup()
  process.exit(2)
}, 420_000)
deadline.unref()

const pin = (cpu: string, pid: number): void => {
  spawnSync('taskset', ['-a', '-p', '-c', cpu, String(pid)], { stdio: 'ignore' })
}
const cores = Number(execFileSync('nproc').toString().trim())
// The machine may be shared: absolute rates are noisy, ratios within one run are the result.
const loadStart = loadavg()
  .map((x) => x.toFixed(1))
  .join(' ')
const pinning = existsSync('/usr/bin/taskset') && cores >= 2

// --- origin (this process) -------------------------------------------------------------
const body = Buffer.alloc(1024, 'x')
const originSeen = { flood: 0, good: 0 }
const origin = createServer((req, res) => {
  if (req.url === '/flood') originSeen.flood++
  else if (req.url === '/good') originSeen.good++
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) })
  res.end(body)
})
await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
if (pinning) pin('1', process.pid)

// --- the edge (child process, core 0) ----------------------------------------------------
const edgeNodeArgs = (process.env['BENCH_EDGE_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '')
const edgeArgs = [
  ...edgeNodeArgs,
  process.env['BENCH_EDGE_CHILD'] ?? join(here, 'edge-child.ts'),
  originUrl,
]
/** A server child on core 0 that prints {"address": ...} once it listens. */
async function serverChild(args: string[]): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(
    pinning ? 'taskset' : process.execPath,
    pinning ? ['-c', '0', process.execPath, ...args] : args,
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  children.add(child)
  const address = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout })
    rl.once('line', (l) => {
      resolve((JSON.parse(l) as { address: string }).address)
    })
    child.once('exit', () => {
      reject(new Error(`${args.at(-2) ?? 'child'} exited`))
    })
  })
  return { child, address }
}
const { child: edge, address: edgeAddress } = await serverChild(edgeArgs)

interface H2 {
  rps: number
  codes: string
}
/** h2load, asynchronously (the origin runs in this process), killed after 60 s. */
async function h2load(url: string, host: string | undefined, n = N): Promise<H2> {
  // h2load sends `:authority` as the HTTP/1.1 Host header.
  const hostArgs = host !== undefined ? ['-H', `:authority: ${host}`] : []
  const args = ['--h1', '-n', String(n), '-c', '32', '-t', '1', ...hostArgs, url]
  const child = spawn(pinning ? 'taskset' : H2LOAD, pinning ? ['-c', '1', H2LOAD, ...args] : args, {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  children.add(child)
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  await new Promise((r) => child.once('exit', r))
  clearTimeout(timer)
  children.delete(child)
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? NaN)
  const codes = /status codes: ([^\n]+)/.exec(out)?.[1] ?? out.slice(0, 200)
  return { rps, codes }
}

const rows: [string, string, string][] = []
const row = (what: string, value: string, goal: string): void => {
  rows.push([what, value, goal])
  console.error(`  ${what}: ${value}`)
}
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a')
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a')
const result: Record<string, number | string> = {}

// --- 1. B1 -------------------------------------------------------------------------------
// Every server is started first, then the loads alternate over ROUNDS rounds and each
// figure is the median of its rounds, so a change in the machine's load between two
// measurements falls on both sides of a ratio alike.
const hasH2load = existsSync(H2LOAD)
if (hasH2load) {
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.floor(s.length / 2)] ?? NaN
  }
  const targets: { key: string; url: string; host: string | undefined; n: number }[] = [
    { key: 'edgeServe', url: `http://${edgeAddress}/`, host: 'serve.test', n: N },
    { key: 'edgeReject', url: `http://${edgeAddress}/`, host: 'limit.test', n: 5 * N },
  ]
  const stops: (() => unknown)[] = []
  // The same edge with the HTTP/1.1 front door off: every 429 through node:http.
  const noDoor = await serverChild([...edgeArgs, '--no-front-door'])
  stops.push(() => noDoor.child.kill('SIGTERM'))
  targets.push({
    key: 'edgeRejectNoFrontDoor',
    url: `http://${noDoor.address}/`,
    host: 'limit.test',
    n: 5 * N,
  })
  // The ceiling: node:http alone sending the same 429 (what the edge's HTTP stack costs).
  const bare = await serverChild([join(here, 'ceiling-child.ts'), 'ceiling'])
  stops.push(() => bare.child.kill('SIGTERM'))
  targets.push({
    key: 'nodeHttpCeiling',
    url: `http://${bare.address}/`,
    host: 'limit.test',
    n: 5 * N,
  })
  const withNginx = hasNginx()
  if (withNginx) {
    const port = (origin.address() as AddressInfo).port
    const cpu = pinning ? { cpu: '0' } : {}
    const ns = await startNginx({ rate: '10r/s', proxyTo: port, ...cpu })
    const nr = await startNginx({ rate: '10r/s', limit: 'burst=20 nodelay', proxyTo: port, ...cpu })
    stops.push(
      () => ns.stop(),
      () => nr.stop(),
    )
    targets.push(
      { key: 'nginxServe', url: `http://127.0.0.1:${ns.port}/`, host: undefined, n: N },
      { key: 'nginxReject', url: `http://127.0.0.1:${nr.port}/`, host: undefined, n: 5 * N },
    )
  }
  const rates = new Map<string, number[]>(targets.map((x) => [x.key, []]))
  const codes = new Map<string, string>()
  try {
    // Warm-up (JIT, origin pools), then the rounds.
    for (const x of targets) await h2load(x.url, x.host, 2000)
    for (let round = 0; round < ROUNDS; round++) {
      for (const x of targets) {
        const r = await h2load(x.url, x.host, x.n)
        rates.get(x.key)?.push(r.rps)
        codes.set(x.key, r.codes)
      }
    }
  } finally {
    for (const stop of stops) await stop()
  }
  const m = (key: string): number => median(rates.get(key) ?? [])
  const spread = (key: string): string => {
    const xs = rates.get(key) ?? []
    return `${f0(Math.min(...xs))}–${f0(Math.max(...xs))}`
  }
  for (const x of targets) result[`${x.key}Rps`] = m(x.key)
  result['b1Rounds'] = ROUNDS
  /** a ÷ b per round (measured minutes apart at most): median, and the range over rounds. */
  const ratio = (a: string, b: string): string => {
    const xs = (rates.get(a) ?? []).map((v, k) => v / (rates.get(b)?.[k] ?? NaN))
    result[`${a}Per${b[0]?.toUpperCase() ?? ''}${b.slice(1)}`] = median(xs)
    return `${f2(median(xs))}× (rounds ${f2(Math.min(...xs))}–${f2(Math.max(...xs))})`
  }
  row(
    'edge serve (proxy to origin), req/s',
    `${f0(m('edgeServe'))} (${spread('edgeServe')}; ${codes.get('edgeServe') ?? ''})`,
    '',
  )
  row(
    'edge reject (429), req/s',
    `${f0(m('edgeReject'))} (${spread('edgeReject')}; ${codes.get('edgeReject') ?? ''})`,
    '',
  )
  row('edge reject ÷ serve', ratio('edgeReject', 'edgeServe'), '≥ 3×')
  row(
    'edge reject, front door off (node:http path), req/s',
    `${f0(m('edgeRejectNoFrontDoor'))} (${spread('edgeRejectNoFrontDoor')})`,
    '',
  )
  row('front door on ÷ off', ratio('edgeReject', 'edgeRejectNoFrontDoor'), '')
  row(
    'node:http alone, constant 429 (the front door off ceiling), req/s',
    `${f0(m('nodeHttpCeiling'))} (${spread('nodeHttpCeiling')})`,
    '',
  )
  row('edge reject ÷ node:http ceiling', ratio('edgeReject', 'nodeHttpCeiling'), '')
  if (withNginx) {
    row('nginx serve (proxy_pass), req/s', `${f0(m('nginxServe'))} (${spread('nginxServe')})`, '')
    row(
      'nginx reject (limit_req 429), req/s',
      `${f0(m('nginxReject'))} (${spread('nginxReject')}; ${codes.get('nginxReject') ?? ''})`,
      '',
    )
    row('edge reject ÷ nginx reject', ratio('edgeReject', 'nginxReject'), '≥ 0.5×')
  } else row('nginx', 'not installed', '')
} else row('B1', 'h2load not installed (apt-get install nghttp2-client)', '')

if (only === undefined) {
  // --- 2. B2: flood from 127.0.0.2, good client from 127.0.0.3 ------------------------------
  const goodAgent = new Agent({ keepAlive: true, localAddress: '127.0.0.3' })
  function goodGet(): Promise<{ status: number; ms: number }> {
    const u = new URL(`http://${edgeAddress}`)
    const t = performance.now()
    return new Promise((resolve) => {
      const r = request(
        {
          host: u.hostname,
          port: u.port,
          path: '/good',
          agent: goodAgent,
          headers: { host: 'limit.test' },
        },
        (res) => {
          res.resume()
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, ms: performance.now() - t })
          })
        },
      )
      r.on('error', () => {
        resolve({ status: 0, ms: performance.now() - t })
      })
      r.end()
    })
  }
  async function goodClient(ms: number): Promise<{ status: number; ms: number }[]> {
    const out: Promise<{ status: number; ms: number }>[] = []
    const end = performance.now() + ms
    while (performance.now() < end) {
      out.push(goodGet())
      await sleep(100)
    }
    return Promise.all(out)
  }
  const p99 = (xs: number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? NaN
  const baseline = await goodClient(2000)
  const floodProc = spawn(
    process.execPath,
    [
      join(here, 'flood-child.ts'),
      `http://${edgeAddress}`,
      'limit.test',
      '127.0.0.2',
      String(FLOOD_MS),
      '32',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  children.add(floodProc)
  const floodOut = new Promise<string>((resolve) => {
    let s = ''
    floodProc.stdout.on('data', (d: Buffer) => (s += d.toString()))
    floodProc.once('exit', () => {
      resolve(s)
    })
  })
  originSeen.flood = 0
  const during = await goodClient(FLOOD_MS)
  const flood = JSON.parse(await floodOut) as {
    buckets: { ok: number; rejected: number; other: number }[]
  }
  const good2xx = during.filter((r) => r.status >= 200 && r.status < 300).length / during.length
  const fTotal = flood.buckets.reduce((a, b) => a + b.ok + b.rejected + b.other, 0)
  const fRejected = flood.buckets.reduce((a, b) => a + b.rejected, 0)
  const mitigated = flood.buckets.findIndex(
    (b) => b.ok + b.rejected > 0 && b.rejected / (b.ok + b.rejected) >= 0.95,
  )
  const mitigateMs = mitigated < 0 ? NaN : (mitigated + 1) * 100
  const allowedFlood = 20 + 1 + (10 * FLOOD_MS) / 1000
  result['good2xx'] = good2xx
  result['mitigateMs'] = mitigateMs
  row(
    'good client 2xx during flood (10 r/s from 127.0.0.3)',
    `${(good2xx * 100).toFixed(1)} % (${during.length} requests)`,
    '≥ 99 %',
  )
  row(
    'good client p99 latency, baseline → during flood',
    `${f2(p99(baseline.map((r) => r.ms)))} ms → ${f2(p99(during.map((r) => r.ms)))} ms`,
    '≤ 2× baseline',
  )
  row(
    'flood requests rejected (from 127.0.0.2)',
    `${((fRejected / Math.max(1, fTotal)) * 100).toFixed(2)} % of ${fTotal}`,
    '≥ 95 %',
  )
  row(
    'flood requests that reached the origin',
    `${originSeen.flood} (limit + burst over ${FLOOD_MS / 1000} s: ${allowedFlood})`,
    `≤ ${allowedFlood}`,
  )
  row(
    'time to mitigate (≥ 95 % of a 100 ms bucket rejected)',
    `≤ ${f0(mitigateMs)} ms`,
    '≤ 1000 ms',
  )
  goodAgent.destroy()

  // --- 3. clearance verification -------------------------------------------------------------
  {
    const keys = new KeyRing()
    const b = {
      zone: 'example.org',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
    }
    const token = issueClearance(keys, b, Date.now(), 3600)
    const forged = token.slice(0, 20) + (token[20] === 'A' ? 'B' : 'A') + token.slice(21)
    const vb = { ...b, prefix: '192.0.2.0/24' }
    const time = (t: string): number => {
      for (let i = 0; i < 20_000; i++) verifyClearance(keys, t, vb, Date.now())
      const n = 200_000
      const t0 = performance.now()
      for (let i = 0; i < n; i++) verifyClearance(keys, t, vb, Date.now())
      return ((performance.now() - t0) * 1000) / n
    }
    const ok = time(token)
    const bad = time(forged)
    result['verifyUs'] = ok
    result['forgedUs'] = bad
    row('clearance verification, valid / forged', `${f2(ok)} µs / ${f2(bad)} µs per op`, '≤ 15 µs')
    // The engine alone: what a 429 decision costs, without the HTTP stack around it.
    const p = new Protection({
      zones: {
        z: { rules: [{ id: 'r', action: 'rate-limit', rateLimit: { rate: '10r/s', burst: 20 } }] },
      },
    })
    const f = {
      zone: 'z',
      host: 'z',
      method: 'GET',
      path: '/',
      headers: { 'user-agent': 'h2load' },
      ip: '127.0.0.1',
    }
    for (let i = 0; i < 20_000; i++) p.evaluate(f)
    const t0 = performance.now()
    for (let i = 0; i < 200_000; i++) p.evaluate(f)
    const us = ((performance.now() - t0) * 1000) / 200_000
    result['evaluateRejectUs'] = us
    row(
      'engine evaluate() → 429 decision, in process',
      `${f2(us)} µs/op (${f0(1e6 / us)} decisions/s)`,
      '',
    )
  }
}

// --- 4. Chromium -----------------------------------------------------------------------------
edge.kill('SIGTERM')
await new Promise((r) => edge.once('exit', r))
origin.close()
if (pinning) pin(`0-${cores - 1}`, process.pid)
if (only !== undefined) {
  // part 1 only
} else if (hasChromium()) {
  const site = await startSite({ underAttack: { enabled: true } })
  const nojs = await startSite({
    underAttack: { enabled: true },
    challenge: { noJsDelaySeconds: 2 },
  })
  const browser = await launch()
  try {
    for (const throttle of [1, 4]) {
      const rs = []
      for (let i = 0; i < RUNS; i++) rs.push(await solveRun(browser, site.url, { throttle }))
      const solve = rs.map((r) => r.solveMs)
      const sorted = [...solve].sort((a, b) => a - b)
      result[`solveMeanMs${throttle}x`] = mean(solve)
      row(
        `JS challenge in Chromium at ${throttle}× CPU: solve mean / p95 (round trip mean), ${RUNS} runs`,
        `${f0(mean(solve))} / ${f0(sorted[Math.ceil(sorted.length * 0.95) - 1] ?? NaN)} ms (${f0(mean(rs.map((r) => r.ms)))} ms); next request passed ${rs.filter((r) => r.nextPassed).length}/${RUNS}`,
        throttle === 4 ? 'mean ≤ 1000 ms' : '',
      )
    }
    const nj = []
    for (let i = 0; i < 5; i++)
      nj.push(
        await solveRun(browser, nojs.url, { javaScript: false, timeoutMs: 10_000 }).catch(
          () => undefined,
        ),
      )
    const passed = nj.filter((r) => r !== undefined && r.nextPassed && r.ms <= 5000)
    result['noJsPassRate'] = passed.length / nj.length
    row(
      'no-JS tier (JavaScript disabled, 2 s meta refresh): passed ≤ 5 s',
      `${passed.length}/${nj.length} (mean ${f0(mean(passed.map((r) => r?.ms ?? NaN)))} ms)`,
      '100 %, ≤ 5 s',
    )
  } finally {
    await browser.close()
    await site.close()
    await nojs.close()
  }
} else row('Chromium', 'not installed', '')

// --- 5. B3: ClientHello replay flood against a keyless edge ----------------------------------
// bench:handshake-flood as a child (its own key server, edge and replayer processes);
// its summary rows are part of this table.
if (only === undefined) {
  const script = join(here, '../../edge/bench/handshake-flood.bench.ts')
  const hf = spawnSync(process.execPath, [script], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, BENCH_SECONDS: process.env['BENCH_FLOOD_SECONDS'] ?? '5' },
  })
  const last = hf.stdout.trim().split('\n').at(-1) ?? ''
  let hfr: Record<string, number> | undefined
  try {
    hfr = JSON.parse(last) as Record<string, number>
  } catch {
    hfr = undefined
  }
  if (hfr === undefined) {
    row(
      'handshake flood',
      `did not finish (exit ${String(hf.status)}): ${hf.stderr.slice(-200)}`,
      '',
    )
  } else {
    const rate = Number(hfr['floodRate'])
    const budget = Number(hfr['budget'])
    result['handshakeFloodSigsPerSecond'] = rate
    result['handshakeFloodBudget'] = budget
    row(
      'key-server signatures/s under a ClientHello replay flood vs per-IP budget',
      `${f2(rate)}/s vs ${f0(budget)}/s (${f0(Number(hfr['floodAttempts']))} replays)`,
      'within budget ±5 %',
    )
    row('signatures from an unknown-SNI replay flood', String(hfr['unknownSigs']), '0')
    row(
      'good client during the replay flood: resumed / full handshakes OK',
      `${f2(Number(hfr['resumedOk']))} % / ${f2(Number(hfr['fullOk']))} %`,
      '100 % / ≥ 99 %',
    )
  }
}

const sha = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim()
const load = loadavg()
  .map((x) => x.toFixed(1))
  .join(' ')
console.log(
  `\n## bench:protect (${sha}, Node ${process.version}, ${cores} cores${pinning ? ', edge/nginx on core 0, load + origin on core 1' : ''}; load average at start ${loadStart}, at end ${load})\n`,
)
console.log('| measure | result | goal |')
console.log('|---|---|---|')
for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`)
console.log('\n' + JSON.stringify({ bench: 'protect', sha, node: process.version, ...result }))
clearTimeout(deadline)
cleanup()
process.exit(0)
