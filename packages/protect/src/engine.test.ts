import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Protection } from './engine.ts'
import { solveWork } from './challenge.ts'
import type { Decision, DecisionLogEntry, RequestFacts } from './types.ts'

const ZONE = 'example.org'
const FF = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'
const HTML = { 'user-agent': FF, accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }

function req(over: Partial<RequestFacts> = {}): RequestFacts {
  return {
    zone: ZONE,
    host: ZONE,
    method: 'GET',
    path: '/',
    headers: HTML,
    ip: '192.0.2.10',
    now: 1_000_000,
    ...over,
  }
}

const limit10 = {
  rules: [
    { id: 'per-ip', action: 'rate-limit', rateLimit: { rate: '10r/s', burst: 20, nodelay: true } },
  ],
} as const

test('AP1 through the engine: 21 pass, 79 get 429 + Retry-After; another IP is served', () => {
  const p = new Protection({ zones: { [ZONE]: limit10 } })
  const ds = Array.from({ length: 100 }, () => p.evaluate(req()))
  assert.equal(ds.filter((d) => d.kind === 'pass').length, 21)
  const rej = ds.filter((d) => d.kind === 'respond')
  assert.equal(rej.length, 79)
  for (const d of rej) {
    assert.equal(d.status, 429)
    assert.equal(d.headers['retry-after'], '1')
  }
  assert.equal(p.evaluate(req({ ip: '192.0.2.11' })).kind, 'pass')
  const later = Array.from({ length: 20 }, () => p.evaluate(req({ now: 1_001_000 })))
  assert.equal(later.filter((d) => d.kind === 'pass').length, 10)
  assert.match(
    p.prometheus(),
    /outpost_protect_requests_total\{zone="example.org",rule="per-ip",action="rate-limit"\} 89/,
  )
})

test('AP2: log-only passes everything, counts 79 would-blocks and logs would: block', () => {
  const log: DecisionLogEntry[] = []
  const p = new Protection({
    zones: { [ZONE]: { rules: [{ ...limit10.rules[0], mode: 'log' }] } },
    onDecision: (e) => log.push(e),
  })
  const ds = Array.from({ length: 100 }, () => p.evaluate(req()))
  assert.equal(ds.filter((d) => d.kind === 'pass').length, 100)
  assert.equal(p.metrics.wouldCount(ZONE, 'per-ip'), 79)
  assert.match(
    p.prometheus(),
    /outpost_rule_would_block_total\{zone="example.org",rule="per-ip",would="block"\} 79/,
  )
  assert.equal(log.length, 79)
  assert.equal(
    log.every((e) => e.would === 'block' && e.rule === 'per-ip'),
    true,
  )
  // The same with zone-wide log mode.
  const q = new Protection({ zones: { [ZONE]: { ...limit10, mode: 'log' } } })
  for (let i = 0; i < 100; i++) assert.equal(q.evaluate(req()).kind, 'pass')
  assert.equal(q.metrics.wouldCount(ZONE, 'per-ip'), 79)
})

test('AP20: decision logs carry a keyed hash, never the address', () => {
  const log: DecisionLogEntry[] = []
  const p = new Protection({ zones: { [ZONE]: limit10 }, onDecision: (e) => log.push(e) })
  for (let i = 0; i < 30; i++) p.evaluate(req({ ip: '127.0.0.2' }))
  const text = JSON.stringify(log)
  assert.ok(log.length > 0)
  assert.equal(text.includes('127.0.0.2'), false)
  assert.equal(log[0]?.client, p.clientHash('127.0.0.2'))
  const other = new Protection({})
  assert.notEqual(
    other.clientHash('127.0.0.2'),
    p.clientHash('127.0.0.2'),
    'keyed, not a plain hash',
  )
})

test('rules: block by path and method, allow short-circuits, prefix and header keys', () => {
  const p = new Protection({
    zones: {
      [ZONE]: {
        rules: [
          { id: 'ok-health', action: 'allow', match: { paths: ['/health'] } },
          {
            id: 'no-xmlrpc',
            action: 'block',
            match: { paths: ['/xmlrpc.php'], methods: ['POST'] },
          },
          { id: 'net', action: 'rate-limit', rateLimit: { rate: 1, burst: 1, key: 'prefix' } },
        ],
      },
    },
  })
  const blocked = p.evaluate(req({ method: 'POST', path: '/xmlrpc.php' }))
  assert.equal(blocked.kind === 'respond' && blocked.status, 403)
  assert.equal(p.evaluate(req({ method: 'GET', path: '/xmlrpc.php' })).kind, 'pass')
  assert.equal(p.evaluate(req({ ip: '192.0.2.99' })).kind, 'pass', 'same /24 already used 2')
  assert.equal(p.evaluate(req({ ip: '192.0.2.98' })).kind, 'respond', 'prefix limited')
  assert.equal(p.evaluate(req({ ip: '198.51.100.1' })).kind, 'pass', 'other /24')
  for (let i = 0; i < 5; i++) assert.equal(p.evaluate(req({ path: '/health' })).kind, 'pass')
})

test('nginx delay=N: excess requests are passed with a delay', () => {
  const p = new Protection({
    zones: {
      [ZONE]: {
        rules: [
          {
            id: 'd',
            action: 'rate-limit',
            rateLimit: { rate: 10, burst: 5, nodelay: false, delay: 2 },
          },
        ],
      },
    },
  })
  const ds = Array.from({ length: 5 }, () => p.evaluate(req()))
  assert.deepEqual(
    ds.map((d) => (d.kind === 'pass' ? d.delayMs : -1)),
    [0, 0, 0, 100, 200],
  )
})

function solveAndRedeem(p: Protection, d: Decision, over: Partial<RequestFacts> = {}): Decision {
  assert.equal(d.kind, 'challenge')
  const html = d.body.toString()
  const c = /var C="([^"]+)",D=(\d+),U="([^"]+)"/.exec(html)
  assert.ok(c?.[1] !== undefined && c[2] !== undefined && c[3] !== undefined)
  const n = solveWork(c[1], Number(c[2]))
  return p.evaluate(req({ path: `${c[3]}&n=${n}`, ...over }))
}

function cookieOf(d: Decision): string {
  assert.equal(d.kind === 'respond' && d.status, 303)
  const sc = d.kind === 'respond' ? d.headers['set-cookie'] : undefined
  assert.ok(sc !== undefined)
  return sc.split(';')[0] ?? ''
}

test('challenge round trip: PoW → 303 + clearance → next request passes (AP5 logic, AP9)', () => {
  const p = new Protection({ zones: { [ZONE]: { underAttack: { enabled: true } } } })
  const d = p.evaluate(req({ path: '/article?id=1' }))
  assert.equal(d.kind === 'challenge' && d.status, 403)
  assert.match(d.kind === 'challenge' ? (d.headers['content-type'] ?? '') : '', /text\/html/)
  const c = /var C="([^"]+)",D=(\d+),U="([^"]+)"/.exec(
    d.kind === 'challenge' ? d.body.toString() : '',
  )
  const n = solveWork(c?.[1] ?? '', Number(c?.[2]))
  const path = `${c?.[3] ?? ''}&n=${n}`
  const ok = p.evaluate(req({ path, now: 1_000_500 }))
  assert.equal(ok.kind === 'respond' && ok.headers['location'], '/article?id=1')
  const cookie = cookieOf(ok)
  assert.equal(p.evaluate(req({ headers: { ...HTML, cookie } })).kind, 'pass')
  // AP9: the same solution again is refused.
  const again = p.evaluate(req({ path, now: 1_000_600 }))
  assert.equal(again.kind === 'respond' && again.status, 403)
  // Wrong nonce is refused.
  const d2 = p.evaluate(req())
  const c2 = /var C="([^"]+)",D=(\d+),U="([^"]+)"/.exec(
    d2.kind === 'challenge' ? d2.body.toString() : '',
  )
  const bad = p.evaluate(req({ path: `${c2?.[3] ?? ''}&n=999999999999`, ip: '192.0.2.77' }))
  assert.equal(bad.kind === 'respond' && bad.status, 403)
  // AP8: a clearance from another UA does not pass; an IP change does.
  assert.equal(
    p.evaluate(req({ headers: { ...HTML, 'user-agent': 'Other/1', cookie } })).kind,
    'challenge',
  )
  assert.equal(p.evaluate(req({ ip: '203.0.113.5', headers: { ...HTML, cookie } })).kind, 'pass')
  assert.match(
    p.prometheus(),
    /outpost_protect_challenge_solve_seconds_count\{zone="example.org",tier="pow"\} 1/,
  )
})

test('AP8: with prefix binding an IP change fails; one token from 50 IPs is limited per token', () => {
  const p = new Protection({
    zones: {
      [ZONE]: {
        underAttack: { enabled: true },
        clearance: { bindPrefix: true, perToken: { rate: 5, burst: 10 } },
      },
    },
  })
  const cookie = cookieOf(solveAndRedeem(p, p.evaluate(req())))
  assert.equal(
    p.evaluate(req({ ip: '192.0.2.200', headers: { ...HTML, cookie } })).kind,
    'pass',
    'same /24',
  )
  assert.equal(
    p.evaluate(req({ ip: '198.51.100.7', headers: { ...HTML, cookie } })).kind,
    'challenge',
  )
  const q = new Protection({
    zones: {
      [ZONE]: { underAttack: { enabled: true }, clearance: { perToken: { rate: 5, burst: 10 } } },
    },
  })
  const shared = cookieOf(solveAndRedeem(q, q.evaluate(req())))
  let passed = 0
  for (let i = 0; i < 50; i++) {
    const d = q.evaluate(req({ ip: `10.0.${i}.1`, headers: { ...HTML, cookie: shared } }))
    if (d.kind === 'pass') passed++
    else assert.equal(d.kind === 'respond' && d.status, 429)
  }
  assert.equal(passed, 11, 'burst 10 + 1 across all 50 addresses')
})

test('AP6 logic: the no-JS tier is valid only after the delay, and only once', () => {
  const p = new Protection({
    zones: { [ZONE]: { underAttack: { enabled: true }, challenge: { noJsDelaySeconds: 2 } } },
  })
  const d = p.evaluate(req({ path: '/page' }))
  const m = /http-equiv="refresh" content="(\d+);url=([^"]+)"/.exec(
    d.kind === 'challenge' ? d.body.toString() : '',
  )
  assert.equal(m?.[1], '2')
  const url = (m[2] ?? '').replace(/&#38;/g, '&')
  const early = p.evaluate(req({ path: url, now: 1_001_500 }))
  assert.equal(early.kind === 'respond' && early.status, 403)
  assert.match(early.kind === 'respond' ? early.body.toString() : '', /too fast/i)
  const ok = p.evaluate(req({ path: url, now: 1_002_000 }))
  assert.equal(ok.kind === 'respond' && ok.headers['location'], '/page')
  const again = p.evaluate(req({ path: url, now: 1_002_100 }))
  assert.equal(again.kind === 'respond' && again.status, 403, 'single use')
  // A PoW challenge cannot be redeemed on the no-JS endpoint (no skipping the work).
  const c = /var C="([^"]+)"/.exec(d.kind === 'challenge' ? d.body.toString() : '')?.[1] ?? ''
  const cross = p.evaluate(
    req({ path: `/.outpost/challenge/nojs?c=${c}&r=%2F`, now: 1_003_000, ip: '192.0.2.50' }),
  )
  assert.equal(cross.kind === 'respond' && cross.status, 403)
})

test('AP10: 3 bad solutions in 10 s ban the IP, doubling; allow-listed IPs are never banned', () => {
  const p = new Protection({
    zones: { [ZONE]: { underAttack: { enabled: true }, allow: { cidrs: ['198.51.100.0/24'] } } },
  })
  const bad = (ip: string, now: number): Decision =>
    p.evaluate(req({ ip, now, path: '/.outpost/challenge/verify?c=forged&n=1&r=%2F' }))
  for (let i = 0; i < 3; i++) bad('192.0.2.66', 1_000_000 + i)
  const banned = p.evaluate(req({ ip: '192.0.2.66', now: 1_000_010 }))
  assert.equal(banned.kind === 'respond' && banned.reason, 'banned')
  assert.equal(banned.kind === 'respond' && banned.headers['retry-after'], '60')
  assert.equal(
    p.evaluate(req({ ip: '192.0.2.66', now: 1_061_000 })).kind,
    'challenge',
    'ban expired',
  )
  for (let i = 0; i < 3; i++) bad('192.0.2.66', 1_062_000 + i)
  const again = p.evaluate(req({ ip: '192.0.2.66', now: 1_062_010 }))
  assert.equal(again.kind === 'respond' && again.headers['retry-after'], '120', 'doubled')
  for (let i = 0; i < 10; i++) bad('198.51.100.9', 1_000_000 + i)
  const allowed = p.evaluate(req({ ip: '198.51.100.9', now: 1_000_020 }))
  assert.equal(allowed.kind, 'pass')
  assert.match(p.prometheus(), /outpost_protect_bans_total\{zone="example.org"\} 2/)
})

test('AP11: JSON clients get JSON, never HTML', () => {
  const p = new Protection({ zones: { [ZONE]: { ...limit10, underAttack: { enabled: true } } } })
  const api = { 'user-agent': 'python-requests/2.32', accept: 'application/json' }
  const d = p.evaluate(req({ headers: api }))
  assert.equal(d.kind, 'challenge')
  assert.equal(d.headers['content-type'], 'application/json')
  assert.equal((JSON.parse(d.body.toString()) as { error: string }).error, 'challenge_required')
  for (let i = 0; i < 30; i++) {
    const r = p.evaluate(req({ headers: api, ip: '192.0.2.33' }))
    if (r.kind !== 'pass') assert.doesNotMatch(r.body.toString(), /<html/)
  }
})

test('AP12: under attack with a TTL reverts; the auto-trigger fires on sustained 5xx', () => {
  let now = 1_000_000
  const p = new Protection({
    now: () => now,
    zones: {
      [ZONE]: {
        underAttack: {
          enabled: false,
          autoTrigger: { errorRatio: 0.5, forSeconds: 3, minRequests: 10, ttlSeconds: 60 },
        },
      },
    },
  })
  p.setUnderAttack(ZONE, now + 60_000)
  assert.equal(p.evaluate(req({ now })).kind, 'challenge')
  now += 60_001
  assert.equal(p.evaluate(req({ now })).kind, 'pass')
  // 2 s of errors is not enough; the third second trips it.
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < 10; i++) p.observeResponse(ZONE, i < 7 ? 502 : 200, now + s * 1000 + i)
    if (s < 2) assert.equal(p.underAttack(ZONE, now + s * 1000 + 500), false)
  }
  assert.equal(p.underAttack(ZONE, now + 2500), true)
  assert.equal(p.underAttack(ZONE, now + 2000 + 60_010), false, 'auto-trigger TTL')
  // A healthy origin never trips it.
  const q = new Protection({
    zones: { [ZONE]: { underAttack: { autoTrigger: { errorRatio: 0.5, forSeconds: 2 } } } },
  })
  for (let s = 0; s < 10; s++)
    for (let i = 0; i < 50; i++) q.observeResponse(ZONE, i < 10 ? 500 : 200, s * 1000 + i)
  assert.equal(q.underAttack(ZONE, 9999), false)
})

test('AP18 (engine part): timeline buckets and one de-duplicated anomaly alert', () => {
  const alerts: unknown[] = []
  const p = new Protection({
    zones: { [ZONE]: { ...limit10, anomaly: { z: 3.5, minRequests: 50, dedupSeconds: 7200 } } },
    onAlert: (a) => alerts.push(a),
  })
  let t = 0
  // Norm: ~20 requests per 10 s bucket for 5 minutes.
  for (let b = 0; b < 30; b++)
    for (let i = 0; i < 20; i++)
      p.evaluate(req({ ip: `10.1.${b}.${i}`, now: (t = b * 10_000 + i * 400) }))
  assert.equal(alerts.length, 0)
  // Flood: 3000 requests in 3 s from one IP, then another burst later.
  for (let i = 0; i < 3000; i++) p.evaluate(req({ ip: '127.0.0.2', now: 300_000 + i }))
  for (let i = 0; i < 3000; i++) p.evaluate(req({ ip: '127.0.0.2', now: 400_000 + i }))
  assert.equal(alerts.length, 1, 'fired once (deduplicated)')
  const tl = p.metrics.timeline(ZONE)
  const attack = tl.find((b) => b.start === 300_000)
  assert.ok(attack !== undefined)
  assert.equal(attack.requests, 3000)
  // 21 pass at once, then 10/s over the 2.999 s of the flood: 29 more.
  assert.equal(attack.rejected, 3000 - 21 - 29)
  assert.equal(attack.peakRps, 1000)
  assert.deepEqual(attack.topRules[0], { rule: 'per-ip', hits: 3000 - 21 - 29 })
  assert.ok(t > 0)
})
