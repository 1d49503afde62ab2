import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { AesGcmEnvelope, NullEnvelope } from './envelope.ts'

const KEY = 'https://site.test/secret/path?q=1'

test('AesGcmEnvelope: seal/open round trip; ciphertext hides the plaintext', () => {
  const env = new AesGcmEnvelope()
  const body = Buffer.from('very secret body bytes '.repeat(10))
  const sealed = env.seal(KEY, body)
  assert.equal(sealed.length, 4 + 4 + 12 + body.length + 16)
  assert.equal(sealed.indexOf(Buffer.from('secret')), -1)
  assert.deepEqual(env.open(KEY, sealed), body)
  // Sealing twice gives different bytes (fresh nonce).
  assert.notDeepEqual(env.seal(KEY, body), sealed)
})

test('AesGcmEnvelope: the AAD binds an entry to its cache key; another master key cannot open it', () => {
  const env = new AesGcmEnvelope()
  const sealed = env.seal(KEY, Buffer.from('x'))
  assert.equal(env.open(KEY + '2', sealed), undefined)
  assert.equal(new AesGcmEnvelope().open(KEY, sealed), undefined)
})

test('AesGcmEnvelope: file names are keyed hashes (stable per key, different across keys, no URL)', () => {
  const a = new AesGcmEnvelope(Buffer.alloc(32, 1))
  const b = new AesGcmEnvelope(Buffer.alloc(32, 2))
  assert.match(a.fileName(KEY), /^[0-9a-f]{64}$/)
  assert.equal(a.fileName(KEY), a.fileName(KEY))
  assert.notEqual(a.fileName(KEY), b.fileName(KEY))
  assert.notEqual(a.fileName(KEY), new NullEnvelope().fileName(KEY))
})

test('AesGcmEnvelope: wipe() zeroises the master key; afterwards nothing opens and seal throws', () => {
  const master = randomBytes(32)
  const env = new AesGcmEnvelope(master)
  const sealed = env.seal(KEY, Buffer.from('x'))
  env.wipe()
  assert.ok(master.every((b) => b === 0))
  assert.equal(env.open(KEY, sealed), undefined)
  assert.throws(() => env.seal(KEY, Buffer.from('x')), { code: 'ERR_EDGE_CACHE_WIPED' })
})

test('AesGcmEnvelope: any single flipped bit or truncation is rejected (property)', () => {
  const env = new AesGcmEnvelope()
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.nat(),
      fc.integer({ min: 0, max: 7 }),
      (body, pos, bit) => {
        const sealed = env.seal(KEY, body)
        const i = pos % sealed.length
        const bad = Buffer.from(sealed)
        bad[i] = (bad[i] ?? 0) ^ (1 << bit)
        assert.equal(env.open(KEY, bad), undefined)
        assert.equal(env.open(KEY, sealed.subarray(0, i)), undefined)
        assert.deepEqual(new Uint8Array(env.open(KEY, sealed) ?? []), body)
      },
    ),
    { numRuns: 200 },
  )
})

test('AesGcmEnvelope: the addon and node:crypto backends write the same format and open each other', () => {
  const master = randomBytes(32)
  const fast = new AesGcmEnvelope(Buffer.from(master))
  const node = new AesGcmEnvelope(Buffer.from(master), 'node')
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40_000 }), fc.string(), (body, key) => {
      const a = fast.seal(key, body)
      const b = node.seal(key, body)
      assert.equal(a.length, b.length)
      assert.deepEqual(node.open(key, a), Buffer.from(body))
      assert.deepEqual(fast.open(key, b), Buffer.from(body))
      // Any flipped bit fails on both backends.
      const i = (body.length * 7) % a.length
      a[i] = (a[i] as number) ^ 0x01
      assert.equal(fast.open(key, a), undefined)
      assert.equal(node.open(key, a), undefined)
      assert.equal(fast.open(key + 'x', b), undefined)
    }),
    { numRuns: 60 },
  )
})
