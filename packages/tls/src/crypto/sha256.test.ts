import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { HmacSha256, Sha256, sha256 } from './sha256.ts'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

test('sha256() matches the FIPS 180-4 examples', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
  assert.equal(
    hex(sha256(enc('abc'))),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  )
  assert.equal(
    hex(sha256(enc('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  )
  assert.equal(
    hex(sha256(new Uint8Array(0))),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  )
})

test('Sha256 agrees with node:crypto for every length 0..300 and any split', () => {
  for (let n = 0; n <= 300; n++) {
    const m = new Uint8Array(randomBytes(n))
    const want = createHash('sha256').update(m).digest('hex')
    assert.equal(hex(sha256(m)), want, `length ${n}`)
    const cut = n === 0 ? 0 : (n * 7) % n
    const h = new Sha256().update(m.subarray(0, cut))
    const fork = new Sha256(h)
    h.update(m.subarray(cut))
    assert.equal(hex(h.digest()), want, `length ${n} split at ${cut}`)
    // The fork is independent of the original.
    assert.equal(
      hex(fork.digest()),
      createHash('sha256').update(m.subarray(0, cut)).digest('hex'),
      `fork at ${cut}`,
    )
  }
  // Many small updates across block boundaries.
  const big = new Uint8Array(randomBytes(5000))
  const h = new Sha256()
  for (let at = 0; at < big.length; at += 13) h.update(big.subarray(at, at + 13))
  assert.equal(hex(h.digest()), createHash('sha256').update(big).digest('hex'))
})

test('HmacSha256 matches RFC 4231 test case 2 and node:crypto for keys and messages of any length', () => {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
  assert.equal(
    hex(new HmacSha256(enc('Jefe')).mac(enc('what do ya want for nothing?'))),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  )
  for (const keyLen of [0, 1, 32, 48, 63, 64, 65, 131]) {
    const key = new Uint8Array(randomBytes(keyLen))
    const k = new HmacSha256(key)
    for (const n of [0, 1, 31, 32, 54, 55, 56, 63, 64, 65, 119, 120, 200]) {
      const m = new Uint8Array(randomBytes(n))
      const want = createHmac('sha256', key).update(m).digest('hex')
      assert.equal(hex(k.mac(m)), want, `key ${keyLen}, message ${n}`)
      const c = Math.floor(n / 3)
      assert.equal(
        hex(k.mac(m.subarray(0, c), m.subarray(c, 2 * c), m.subarray(2 * c))),
        want,
        `key ${keyLen}, message ${n} in three parts`,
      )
    }
    k.drop()
  }
})

test('HmacSha256.drop() zeroises the prepared key', () => {
  const k = new HmacSha256(new Uint8Array(32).fill(7))
  const m = new Uint8Array(10)
  const before = hex(k.mac(m))
  k.drop()
  assert.notEqual(hex(k.mac(m)), before)
})
