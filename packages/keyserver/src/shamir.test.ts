import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { combine, decodeShare, encodeShare, gfInv, gfMul, split } from './shamir.ts'
import { ShareError } from './errors.ts'

/** Reference multiplication via the classic carry-less multiply and reduce. */
function slowMul(a: number, b: number): number {
  let p = 0
  for (let i = 0; i < 8; i++) if ((b >> i) & 1) p ^= a << i
  for (let i = 15; i >= 8; i--) if ((p >> i) & 1) p ^= 0x11b << (i - 8)
  return p
}

test('gfMul() matches carry-less multiplication modulo the AES polynomial', () => {
  for (let a = 0; a < 256; a++)
    for (let b = 0; b < 256; b += 7) assert.equal(gfMul(a, b), slowMul(a, b))
  // FIPS 197 §4.2 example: {57} x {83} = {c1}.
  assert.equal(gfMul(0x57, 0x83), 0xc1)
})

test('gfInv() is the multiplicative inverse of every non-zero element', () => {
  for (let a = 1; a < 256; a++) assert.equal(gfMul(a, gfInv(a)), 1)
})

const params = fc
  .integer({ min: 1, max: 10 })
  .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n })))

test('combine() reconstructs the secret from any threshold-sized subset (property)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 40 }),
      params,
      fc.infiniteStream(fc.integer()),
      (secret, [n, k], picks) => {
        const shares = split(secret, n, k)
        assert.equal(shares.length, n)
        const pool = [...shares]
        const chosen = []
        const it = picks[Symbol.iterator]()
        for (let i = 0; i < k; i++) {
          const r = Math.abs(it.next().value as number) % pool.length
          chosen.push(...pool.splice(r, 1))
        }
        assert.deepEqual(combine(chosen), secret)
      },
    ),
  )
})

test('combine() with threshold-1 shares gives a different secret (property)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      params.filter(([, k]) => k >= 2),
      (secret, [n, k]) => {
        const shares = split(secret, n, k)
        assert.notDeepEqual(combine(shares.slice(0, k - 1)), secret)
        assert.notDeepEqual(combine(shares.slice(n - k + 1)), secret)
      },
    ),
  )
})

test('split() with threshold 1 puts the secret in every share', () => {
  const shares = split(new Uint8Array([1, 2, 3]), 3, 1)
  for (const s of shares) assert.deepEqual(s.y, new Uint8Array([1, 2, 3]))
})

test('split() rejects impossible parameters', () => {
  assert.throws(() => split(new Uint8Array(1), 0, 1), /share count must be 1..255/)
  assert.throws(() => split(new Uint8Array(1), 3, 4), /threshold must be 1..3, current value is 4/)
  assert.throws(() => split(new Uint8Array(1), 256, 2), RangeError)
})

test('combine() rejects duplicate and mismatched shares', () => {
  const [a, b] = split(new Uint8Array(8), 3, 2)
  assert.throws(() => combine([a!, a!]), /share 1 given twice/)
  assert.throws(() => combine([a!, { x: 2, y: new Uint8Array(7) }]), /lengths differ/)
  assert.throws(() => combine([]), ShareError)
  assert.ok(b)
})

test('encodeShare() and decodeShare() round-trip (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 255 }),
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      (x, y) => {
        const text = encodeShare({ x, y })
        assert.match(text, /^oks1-[0-9a-f]{2}-[0-9a-f]+$/)
        assert.deepEqual(decodeShare(new TextEncoder().encode(` ${text}\n`)), { x, y })
      },
    ),
  )
})

test('decodeShare() only ever throws ShareError on random input (property)', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 80 }),
        fc.string().map((s) => new TextEncoder().encode('oks1-' + s)),
      ),
      (bytes) => {
        try {
          decodeShare(bytes)
        } catch (e) {
          assert.ok(e instanceof ShareError, String(e))
        }
      },
    ),
  )
})

test('decodeShare() rejects index 0 and bad hex', () => {
  const enc = (s: string) => new TextEncoder().encode(s)
  assert.throws(() => decodeShare(enc('oks1-00-abcd')), /index must be 1..255/)
  assert.throws(() => decodeShare(enc('oks1-01-abcz')), /invalid hex/)
  assert.throws(() => decodeShare(enc('oks2-01-abcd')), /expected the form/)
})
