import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { KeyRing } from './keys.ts'
import { issueClearance, verifyClearance, TOKEN_CHARS } from './clearance.ts'

const B = { zone: 'example.org', userAgent: 'Mozilla/5.0 Firefox/140', prefix: '192.0.2.0/24' }
const NOW = 1_800_000_000_000

test('a token verifies for its zone and UA, and carries a stable id', () => {
  const keys = new KeyRing()
  const t = issueClearance(keys, { zone: B.zone, userAgent: B.userAgent }, NOW, 3600)
  assert.equal(t.length, TOKEN_CHARS)
  const v = verifyClearance(keys, t, B, NOW + 1000)
  assert.equal(v.ok, true)
  assert.equal(
    verifyClearance(keys, t, { ...B, prefix: '198.51.100.0/24' }, NOW).ok,
    true,
    'IP change ok when unbound',
  )
})

test('AP7: tampered, expired, wrong zone, wrong UA, truncated and wrong-epoch tokens fail', () => {
  const keys = new KeyRing()
  const t = issueClearance(keys, { zone: B.zone, userAgent: B.userAgent }, NOW, 3600)
  assert.equal(verifyClearance(keys, t, B, NOW + 3600_000).ok, false, 'expired')
  assert.equal(verifyClearance(keys, t, { ...B, zone: 'other.org' }, NOW).ok, false, 'zone')
  assert.equal(verifyClearance(keys, t, { ...B, userAgent: 'curl/8' }, NOW).ok, false, 'UA (AP8)')
  assert.equal(verifyClearance(keys, t.slice(0, -1), B, NOW).ok, false, 'truncated')
  assert.equal(verifyClearance(keys, '', B, NOW).ok, false, 'empty')
  const other = new KeyRing()
  assert.equal(verifyClearance(other, t, B, NOW).ok, false, 'other key')
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: TOKEN_CHARS - 1 }),
      fc.integer({ min: 1, max: 63 }),
      (i, d) => {
        const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
        const c = alpha[(alpha.indexOf(t[i] ?? 'A') + d) % 64] ?? 'A'
        const forged = t.slice(0, i) + c + t.slice(i + 1)
        // The last character carries only 4 significant bits; other changes must fail.
        if (
          i === TOKEN_CHARS - 1 &&
          Buffer.from(forged, 'base64url').equals(Buffer.from(t, 'base64url'))
        )
          return
        assert.equal(verifyClearance(keys, forged, B, NOW).ok, false)
      },
    ),
  )
})

test('prefix binding: a changed prefix fails only when bound', () => {
  const keys = new KeyRing()
  const t = issueClearance(keys, B, NOW, 3600)
  assert.equal(verifyClearance(keys, t, B, NOW).ok, true)
  assert.equal(verifyClearance(keys, t, { ...B, prefix: '198.51.100.0/24' }, NOW).ok, false)
})

test('AP7: rotation keeps old tokens valid within history; shred invalidates all', () => {
  const keys = new KeyRing(new Map(), 2)
  const t1 = issueClearance(keys, B, NOW, 3600)
  keys.rotate()
  const t2 = issueClearance(keys, B, NOW, 3600)
  assert.equal(verifyClearance(keys, t1, B, NOW).ok, true)
  assert.equal(verifyClearance(keys, t2, B, NOW).ok, true)
  keys.rotate()
  keys.rotate()
  assert.equal(verifyClearance(keys, t1, B, NOW).ok, false, 'beyond history')
  assert.equal(verifyClearance(keys, t2, B, NOW).ok, true)
  keys.shred()
  assert.equal(verifyClearance(keys, t2, B, NOW).ok, false, 'shredded')
  assert.equal(verifyClearance(keys, issueClearance(keys, B, NOW, 60), B, NOW).ok, true)
})

test('keys can be supplied (shared by several edges)', () => {
  const k = new Uint8Array(32).fill(7)
  const a = new KeyRing(new Map([[5, k]]))
  const b = new KeyRing(new Map([[5, k]]))
  assert.equal(verifyClearance(b, issueClearance(a, B, NOW, 60), B, NOW).ok, true)
  assert.throws(() => new KeyRing(new Map([[1, new Uint8Array(3)]])), /epoch 1: need 32 bytes/)
})
