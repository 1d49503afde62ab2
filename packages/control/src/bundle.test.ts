import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import fc from 'fast-check'
import { BundleError, signBundle, verifyBundle, type BundlePayload } from './bundle.ts'

const { privateKey, publicKey } = generateKeyPairSync('ed25519')
const payload = (version: number): BundlePayload => ({
  version,
  issuedAt: '2026-01-01T00:00:00.000Z',
  zones: [
    {
      id: 'z',
      orgId: 'o',
      hostnames: ['a.example'],
      origin: 'https://o.example',
      certificateChain: '',
    },
  ],
  policies: [],
})

const code = (f: () => unknown): string => {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof BundleError)
    return e.code
  }
  return 'accepted'
}

test('verifyBundle() accepts a signed bundle at or above the last version', () => {
  const b = signBundle(payload(7), privateKey)
  assert.deepEqual(verifyBundle(b, publicKey, 7), payload(7))
  assert.equal(verifyBundle(b, publicKey, 0).version, 7)
})

test('verifyBundle() rejects rollback, another key, and a forged envelope version', () => {
  const b = signBundle(payload(7), privateKey)
  assert.equal(
    code(() => verifyBundle(b, publicKey, 8)),
    'ERR_CONTROL_BUNDLE_ROLLBACK',
  )
  const other = generateKeyPairSync('ed25519').publicKey
  assert.equal(
    code(() => verifyBundle(b, other, 0)),
    'ERR_CONTROL_BUNDLE_SIGNATURE',
  )
  assert.equal(
    code(() => verifyBundle({ ...b, version: 9 }, publicKey, 8)),
    'ERR_CONTROL_BUNDLE_FORMAT',
  )
  assert.equal(
    code(() => verifyBundle({ payload: 1 }, publicKey, 0)),
    'ERR_CONTROL_BUNDLE_FORMAT',
  )
})

test('verifyBundle() rejects any single-byte change to payload or signature', () => {
  const b = signBundle(payload(3), privateKey)
  const p = Buffer.from(b.payload, 'base64url')
  const s = Buffer.from(b.signature, 'base64url')
  fc.assert(
    fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), (inPayload, pos, xor) => {
      const buf = Buffer.from(inPayload ? p : s)
      const i = pos % buf.length
      buf[i] = (buf[i] ?? 0) ^ xor
      const tampered = inPayload
        ? { ...b, payload: buf.toString('base64url') }
        : { ...b, signature: buf.toString('base64url') }
      assert.equal(
        code(() => verifyBundle(tampered, publicKey, 0)),
        'ERR_CONTROL_BUNDLE_SIGNATURE',
      )
    }),
    { numRuns: 300 },
  )
})
