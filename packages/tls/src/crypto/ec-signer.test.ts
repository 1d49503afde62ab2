import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync, verify, type KeyObject } from 'node:crypto'
import fc from 'fast-check'
import { nativeEcSigner } from './ec-signer.ts'
import { native } from './native.ts'

const skip = native === undefined ? 'the addon is not built' : false

function parts(curve: 'P-256' | 'P-384'): { d: Buffer; q: Buffer; pub: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve })
  const jwk = privateKey.export({ format: 'jwk' })
  const d = Buffer.from(jwk.d ?? '', 'base64url')
  const q = Buffer.concat([
    Buffer.of(4),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ])
  return { d, q, pub: publicKey }
}

for (const [curve, hash] of [
  ['P-256', 'sha256'],
  ['P-384', 'sha384'],
  ['P-384', 'sha256'],
] as const) {
  test(
    `EcSigner ${curve}: content over ${hash} and a bare digest verify with node:crypto`,
    { skip },
    () => {
      const { d, q, pub } = parts(curve)
      const s = nativeEcSigner(curve, d, q)
      assert.ok(s)
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (msg) => {
          const a = s.signContent(hash, msg)
          assert.ok(verify(hash, msg, pub, a), 'content signature verifies')
          assert.ok(
            !verify(hash, Buffer.concat([msg, Buffer.of(0)]), pub, a),
            'not for other content',
          )
          const b = s.signDigest(createHash(hash).update(msg).digest())
          assert.ok(verify(hash, msg, pub, b), 'digest signature verifies as a signature of msg')
          assert.notDeepEqual(a, b, 'a fresh nonce per signature')
          assert.equal(a[0], 0x30, 'DER SEQUENCE')
        }),
        { numRuns: 50 },
      )
      s.free()
      assert.throws(() => s.signContent(hash, Buffer.of(1)), /is freed/)
      s.free() // twice is harmless
    },
  )
}

test('EcSigner refuses a point that is not d·G, bad lengths and bad arguments', { skip }, () => {
  const a = parts('P-256')
  const b = parts('P-256')
  assert.throws(() => nativeEcSigner('P-256', a.d, b.q), /not a valid key pair/)
  assert.throws(() => nativeEcSigner('P-256', a.d.subarray(1), a.q), /scalar must be as long/)
  assert.throws(() => nativeEcSigner('P-384', a.d, a.q), /scalar must be as long/)
  const compressed = Buffer.concat([Buffer.of(2), a.q.subarray(1, 33)])
  assert.throws(() => nativeEcSigner('P-256', a.d, compressed), /uncompressed point/)
  assert.throws(() => nativeEcSigner('P-256', Buffer.alloc(32), a.q), /not a valid key pair/)
  // @ts-expect-error: a curve the type does not allow
  assert.throws(() => nativeEcSigner('P-521', a.d, a.q), /curve must be/)
  const s = nativeEcSigner('P-256', a.d, a.q)
  assert.ok(s)
  assert.throws(() => s.signDigest(Buffer.alloc(0)), /digest must be 1 to 64 bytes/)
  assert.throws(() => s.signDigest(Buffer.alloc(65)), /digest must be 1 to 64 bytes/)
  // A digest longer than the group order is truncated (SEC 1 §4.1.3 step 5), as OpenSSL does.
  const sig = s.signDigest(createHash('sha512').update('x').digest())
  assert.ok(verify('sha512', Buffer.from('x'), a.pub, sig))
  const n = native
  assert.ok(n)
  const raw = new n.EcSigner('P-256', a.d, a.q)
  assert.equal(raw.maxSignatureBytes, 72)
  assert.throws(() => raw.sign(32, Buffer.of(1), Buffer.alloc(71), 0), /no room/)
  assert.throws(() => raw.sign(32, Buffer.of(1), Buffer.alloc(80), 9), /no room/)
  // @ts-expect-error: a hash length the type does not allow
  assert.throws(() => raw.sign(20, Buffer.of(1), Buffer.alloc(80), 0), /hashLength must be/)
  // @ts-expect-error: data must be bytes
  assert.throws(() => raw.sign(32, 'text', Buffer.alloc(80), 0), /must be a Uint8Array/)
  assert.ok(raw.sign(32, Buffer.of(1), Buffer.alloc(80), 8) > 0)
  raw.free()
})
