/**
 * B7 / AP11: the false-positive corpus replayed through the engine, with no network.
 * Normal operation: everyone passes. Under attack: allow-listed classes → allow,
 * browsers → a challenge page with a no-JS tier, API clients → JSON (never HTML).
 * Log-only: everyone passes and the "would" counters count the challenges.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Protection } from '../src/index.ts'
import type { ActionClass, Decision } from '../src/index.ts'

interface Fixture {
  name: string
  ip: string
  headers: Record<string, string>
  underAttack: ActionClass
  json?: boolean
  needsNoJs?: boolean
}

const corpus = (
  JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/b7-corpus.json'), 'utf8')) as {
    requests: Fixture[]
  }
).requests

const policy = (extra: object = {}): object => ({
  allow: { tokens: { sha256: [createHash('sha256').update('corpus-test-token').digest('hex')] } },
  ...extra,
})

function classOf(d: Decision): ActionClass {
  if (d.kind === 'pass') return d.allowed !== undefined ? 'allow' : 'pass'
  if (d.kind === 'challenge') return 'challenge'
  return d.reason === 'rate-limit' ? 'rate-limit' : 'block'
}

const run = (p: Protection, f: Fixture): Decision =>
  p.evaluate({
    zone: 'z',
    host: 'z',
    method: 'GET',
    path: '/feed.xml',
    headers: f.headers,
    ip: f.ip,
    now: 5_000_000,
  })

test('B7 corpus has every class the brief names', () => {
  for (const n of [
    'Firefox',
    'Chrome',
    'Safari',
    'Tor',
    'miniflux',
    'FreshRSS',
    'Feedbin',
    'curl with',
    'Uptime Kuma',
    'UptimeRobot',
    'Googlebot from',
    'git',
    'Telegram',
    'screen reader',
  ])
    assert.ok(
      corpus.some((f) => f.name.includes(n)),
      n,
    )
})

test('AP11: normal operation serves everyone (0 % challenged or blocked)', () => {
  const p = new Protection({ zones: { z: policy() } })
  for (const f of corpus) assert.notEqual(classOf(run(p, f)), 'challenge', f.name)
  for (const f of corpus) assert.equal(run(p, f).kind, 'pass', f.name)
})

test('AP11: under attack, each fixture gets its expected action class; JSON clients never HTML', () => {
  const p = new Protection({ zones: { z: policy({ underAttack: { enabled: true } }) } })
  for (const f of corpus) {
    const d = run(p, f)
    const cls = classOf(d)
    assert.equal(cls === 'pass' ? 'allow' : cls, f.underAttack, f.name)
    if (d.kind !== 'pass') {
      const ct = d.headers['content-type'] ?? ''
      if (f.json === true) {
        assert.equal(ct, 'application/json', `${f.name} got ${ct}`)
        assert.doesNotMatch(d.body.toString(), /<html/i)
      } else assert.match(ct, /text\/html/, f.name)
      if (f.needsNoJs === true)
        assert.match(
          d.body.toString(),
          /<noscript><meta http-equiv="refresh" content="\d+;url=/,
          f.name,
        )
    }
  }
})

test('AP11: allow-listed classes are never banned, even after failed solutions', () => {
  const p = new Protection({ zones: { z: policy({ underAttack: { enabled: true } }) } })
  for (const f of corpus.filter((x) => x.underAttack === 'allow')) {
    for (let i = 0; i < 5; i++)
      p.evaluate({
        zone: 'z',
        host: 'z',
        method: 'GET',
        path: '/.outpost/challenge/verify?c=x&n=1',
        headers: f.headers,
        ip: f.ip,
        now: 5_000_000 + i,
      })
    assert.equal(run(p, f).kind, 'pass', f.name)
  }
})

test('B7 in log-only mode: everyone passes and would-challenge counts the browsers', () => {
  const p = new Protection({
    zones: { z: policy({ mode: 'log', underAttack: { enabled: true } }) },
  })
  for (const f of corpus) assert.equal(run(p, f).kind, 'pass', f.name)
  const expected = corpus.filter((f) => f.underAttack === 'challenge').length
  assert.equal(p.metrics.wouldCount('z', 'under-attack', 'challenge'), expected)
})
