import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { toHex } from '@outpost/wire'
import { certificateDigestOf, skiOf } from './key-id.ts'

// keyless-wire-format.md §1.7: the P-256 public key equal to the generator G.
const G = createPublicKey({
  key: {
    kty: 'EC',
    crv: 'P-256',
    x: Buffer.from(
      '6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296',
      'hex',
    ).toString('base64url'),
    y: Buffer.from(
      '4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5',
      'hex',
    ).toString('base64url'),
  },
  format: 'jwk',
})

test('skiOf() matches the P-256 generator vector', () => {
  assert.equal(toHex(skiOf(G)), 'b467a3999eb5efa671de0032f08a9c9e5efda0e1')
})

test('certificateDigestOf() matches the C-style EC compressed-point vector', () => {
  assert.equal(
    toHex(certificateDigestOf(G)),
    'e6914f833950073e2b0b371a89beceb1cd53d2be2dd6e533659af4c0c9ca6b91',
  )
})

test('skiOf() is SHA-1 of the raw key for Ed25519 and of RSAPublicKey for RSA', () => {
  const ed = generateKeyPairSync('ed25519')
  const raw = Buffer.from(ed.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url')
  assert.equal(toHex(skiOf(ed.publicKey)), createHash('sha1').update(raw).digest('hex'))
  assert.equal(toHex(skiOf(ed.privateKey)), toHex(skiOf(ed.publicKey)))
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'der' })
  assert.equal(toHex(skiOf(rsa.publicKey)), createHash('sha1').update(pkcs1).digest('hex'))
})

test('certificateDigestOf() hashes the uppercase RSA modulus hex, Go and OpenSSL styles', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1020 })
  const n = Buffer.from(rsa.publicKey.export({ format: 'jwk' }).n ?? '', 'base64url')
    .toString('hex')
    .toUpperCase()
  assert.match(n, /^0/) // a 1020-bit modulus has a top nibble of 0 in whole-byte hex
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex')
  assert.equal(toHex(certificateDigestOf(rsa.publicKey)), sha(n))
  assert.equal(toHex(certificateDigestOf(rsa.publicKey, 'go')), sha(n.slice(1)))
})
