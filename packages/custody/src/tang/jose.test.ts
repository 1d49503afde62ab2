import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { p521 } from '@noble/curves/nist.js'
import { JoseError } from '../errors.ts'
import {
  b64uEncode,
  concatKdf,
  jwkToPoint,
  parseEcJwk,
  pointToJwk,
  signEs512,
  thumbprint,
  verifyEs512,
} from './jose.ts'

// The ECMR key of a real tangd 11 advert (testdata/tangd11-adv.json) and the kid
// (= file name in tangd's key directory) that clevis 19 wrote into its JWE header.
const TANGD_ECMR = {
  kty: 'EC',
  crv: 'P-521',
  x: 'ADA2rYaDZ4KVwvfGYpLCVmTsNdjQuspEcqBNLZHxK1VKxNmLoe-sB36tCzA-AU7R1gV9emooFribEHgqR9jxlzYw',
  y: 'ALPrAcwUHzO2VX96TANfPvgqT-nCDm502HA2T9khhcNSnUe5pOXGT0gw-kGFlSuxajGzPZ68fdQPSXCgWUcyyQbF',
} as const
const TANGD_ECMR_KID = 'JTqtIoLD8SLRwgNhhInJsf061uJvgfVW0zi3OjrLQ2g'

test('RFC 7638 thumbprint matches the kid tangd and clevis use', () => {
  assert.equal(thumbprint(parseEcJwk(TANGD_ECMR, 'fixture')), TANGD_ECMR_KID)
  const moved = { ...TANGD_ECMR, alg: 'ECMR', key_ops: ['deriveKey'] }
  assert.equal(thumbprint(parseEcJwk(moved, 'fixture')), TANGD_ECMR_KID, 'alg/key_ops excluded')
})

test('Concat KDF: RFC 7518 Appendix C vector (ECDH-ES, A128GCM, apu Alice, apv Bob)', () => {
  const z = Uint8Array.from([
    158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110, 163,
    218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
  ])
  const key = concatKdf(z, 'A128GCM', 128, Buffer.from('Alice'), Buffer.from('Bob'))
  assert.equal(b64uEncode(key), 'VqqN6vgjbSBcIijNcacQGg')
})

test('parseEcJwk rejects a point that is not on P-521', () => {
  const off = { ...TANGD_ECMR, y: TANGD_ECMR.x }
  assert.throws(() => parseEcJwk(off, 'key'), JoseError)
  assert.throws(() => parseEcJwk({ ...TANGD_ECMR, crv: 'P-256' }, 'key'), JoseError)
  assert.throws(() => parseEcJwk({ ...TANGD_ECMR, x: 'AAAA' }, 'key'), /66/)
})

test('point <-> JWK round trip for random points', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 1n, max: p521.Point.Fn.ORDER - 1n }), (k) => {
      const p = p521.Point.BASE.multiply(k)
      assert.ok(jwkToPoint(pointToJwk(p)).equals(p))
    }),
    { numRuns: 20 },
  )
})

test('ES512 sign (noble) verifies with node:crypto, and not after a bit flip', () => {
  const d = p521.utils.randomSecretKey()
  const jwk = pointToJwk(p521.Point.fromBytes(p521.getPublicKey(d, false)))
  const msg = Buffer.from('header.payload')
  const sig = signEs512(msg, d)
  assert.equal(sig.length, 132)
  assert.ok(verifyEs512(msg, sig, jwk))
  sig[5] = (sig[5] ?? 0) ^ 1
  assert.equal(verifyEs512(msg, sig, jwk), false)
})

test('parseEcJwk: random JSON only ever throws JoseError', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      try {
        parseEcJwk(v, 'random')
      } catch (e) {
        assert.ok(e instanceof JoseError, String(e))
      }
    }),
  )
})
