import { test } from 'node:test'
import assert from 'node:assert/strict'
import { KeyRing } from './keys.ts'
import {
  Bans,
  CHALLENGE_CHARS,
  ReplayCache,
  Tier,
  checkWork,
  issueChallenge,
  openChallenge,
  solveWork,
} from './challenge.ts'

const F = { zone: 'example.org', userAgent: 'Mozilla/5.0' }

test('a challenge opens for its zone and UA within its TTL', () => {
  const keys = new KeyRing()
  const c = issueChallenge(keys, F, Tier.pow, 8, 1000)
  assert.equal(c.length, CHALLENGE_CHARS)
  const o = openChallenge(keys, c, F, 2000, 60_000)
  assert.ok(o.ok)
  assert.equal(o.tier, Tier.pow)
  assert.equal(o.difficulty, 8)
  assert.equal(o.issued, 1000)
  assert.deepEqual(openChallenge(keys, c, F, 62_000, 60_000), { ok: false, why: 'expired' })
  assert.deepEqual(openChallenge(keys, c, { ...F, zone: 'x' }, 2000, 60_000), {
    ok: false,
    why: 'forged',
  })
  assert.deepEqual(openChallenge(keys, c, { ...F, userAgent: 'x' }, 2000, 60_000), {
    ok: false,
    why: 'forged',
  })
  const flipped = c.slice(0, 10) + (c[10] === 'A' ? 'B' : 'A') + c.slice(11)
  assert.deepEqual(openChallenge(keys, flipped, F, 2000, 60_000), { ok: false, why: 'forged' })
  assert.deepEqual(openChallenge(new KeyRing(), c, F, 2000, 60_000), { ok: false, why: 'forged' })
})

test('work: the found nonce has the leading zero bits, others mostly do not', () => {
  const keys = new KeyRing()
  const c = issueChallenge(keys, F, Tier.pow, 12, 0)
  const n = solveWork(c, 12)
  assert.equal(checkWork(c, n, 12), true)
  let lucky = 0
  for (let i = 0; i < 200; i++) if (checkWork(c, String(Number(n) + 1 + i), 12)) lucky++
  assert.ok(lucky < 5, `${lucky} of 200 random nonces passed 12 bits`)
  assert.equal(checkWork(c, 'abc', 0), false)
  assert.equal(checkWork(c, '1', 0), true)
})

test('AP9: the replay cache admits an id once and stays bounded', () => {
  const r = new ReplayCache(3)
  assert.equal(r.claim('a', 100, 0), true)
  assert.equal(r.claim('a', 100, 1), false)
  r.claim('b', 100, 0)
  r.claim('c', 100, 0)
  r.claim('d', 100, 0)
  assert.equal(r.size, 3)
  assert.equal(r.claim('e', 100, 200), true, 'expired entries are dropped')
  assert.equal(r.size, 1)
})

test('AP10: 3 failures in 10 s ban; a repeat doubles; old failures expire', () => {
  const cfg = { failures: 3, windowSeconds: 10, baseSeconds: 60, maxSeconds: 1000 }
  const b = new Bans()
  assert.equal(b.fail('ip', 0, cfg), 0)
  assert.equal(b.fail('ip', 11_000, cfg), 0, 'first failure expired')
  assert.equal(b.fail('ip', 12_000, cfg), 0)
  assert.equal(b.fail('ip', 13_000, cfg), 73_000)
  assert.equal(b.bannedUntil('ip', 20_000), 73_000)
  assert.equal(b.bannedUntil('other', 20_000), 0)
  b.fail('ip', 80_000, cfg)
  b.fail('ip', 80_001, cfg)
  assert.equal(b.fail('ip', 80_002, cfg), 80_002 + 120_000, 'doubled')
  b.lift('ip')
  assert.equal(b.bannedUntil('ip', 81_000), 0)
})
