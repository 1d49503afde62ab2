import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { JoseError } from '../errors.ts'
import { exchangeKeys, verifyAdvert } from './advert.ts'

// GET /adv from a real tangd 11 (Debian 12), captured verbatim.
const ADV = readFileSync(new URL('../../testdata/tangd11-adv.json', import.meta.url), 'utf8')
const SIGNER_THP = 'hfOV9ByUYKR6whlcJcLFqS58-ykduDAUg5zfdjdBFjs'

test('a real tangd advert verifies, with and without the pinned thumbprint', () => {
  const v = verifyAdvert(ADV)
  assert.equal(v.keys.length, 2)
  assert.equal(v.signer.alg, 'ES512')
  assert.equal(exchangeKeys(v.keys).length, 1)
  assert.deepEqual(verifyAdvert(JSON.parse(ADV), { thp: SIGNER_THP }).signer, v.signer)
})

test('an advert pinned to another key is refused', () => {
  assert.throws(() => verifyAdvert(ADV, { thp: 'x'.repeat(43) }), /pinned key/)
})

test('a tampered payload or signature is refused', () => {
  const doc = JSON.parse(ADV) as { payload: string; signature: string }
  const keys = JSON.parse(Buffer.from(doc.payload, 'base64url').toString()) as {
    keys: { x: string }[]
  }
  keys.keys.reverse()
  const swapped = { ...doc, payload: Buffer.from(JSON.stringify(keys)).toString('base64url') }
  assert.throws(() => verifyAdvert(swapped), /no valid ES512 signature/)
  const sig = Buffer.from(doc.signature, 'base64url')
  sig[10] = (sig[10] ?? 0) ^ 0x80
  assert.throws(
    () => verifyAdvert({ ...doc, signature: sig.toString('base64url') }),
    /no valid ES512 signature/,
  )
})

test('verifyAdvert: random input only ever throws JoseError', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.jsonValue(),
        fc.record({ payload: fc.base64String(), protected: fc.string(), signature: fc.string() }),
      ),
      (v) => {
        assert.throws(
          () => verifyAdvert(v),
          (e) => e instanceof JoseError,
        )
      },
    ),
  )
})
