import { test } from 'node:test'
import assert from 'node:assert/strict'
import { constants, generateKeyPairSync, verify, type KeyObject } from 'node:crypto'
import { LocalSigner } from './local-signer.ts'
import { SignatureScheme } from './constants.ts'

const content = new Uint8Array(130).fill(0x20)

function check(pub: KeyObject, scheme: SignatureScheme, sig: Uint8Array): boolean {
  const hash =
    scheme === SignatureScheme.ed25519
      ? null
      : scheme === SignatureScheme.ecdsa_secp384r1_sha384 ||
          scheme === SignatureScheme.rsa_pss_rsae_sha384
        ? 'sha384'
        : scheme === SignatureScheme.rsa_pss_rsae_sha512
          ? 'sha512'
          : 'sha256'
  const isPss = scheme >= 0x0804 && scheme <= 0x0806
  const key = isPss
    ? {
        key: pub,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64,
      }
    : pub
  return verify(hash, content, key, sig)
}

test('LocalSigner signs every scheme of its key type, verifiably (RSA as PSS only)', async () => {
  const cases = [
    [generateKeyPairSync('ec', { namedCurve: 'P-256' }), [SignatureScheme.ecdsa_secp256r1_sha256]],
    [generateKeyPairSync('ec', { namedCurve: 'P-384' }), [SignatureScheme.ecdsa_secp384r1_sha384]],
    [generateKeyPairSync('ed25519'), [SignatureScheme.ed25519]],
    [
      generateKeyPairSync('rsa', { modulusLength: 2048 }),
      [
        SignatureScheme.rsa_pss_rsae_sha256,
        SignatureScheme.rsa_pss_rsae_sha384,
        SignatureScheme.rsa_pss_rsae_sha512,
      ],
    ],
  ] as const
  for (const [kp, schemes] of cases) {
    const signer = new LocalSigner(kp.privateKey)
    assert.deepEqual(signer.schemes, schemes)
    for (const s of schemes) {
      const sig = await signer.sign(s, content)
      assert.equal(check(kp.publicKey, s, sig), true, `scheme 0x${s.toString(16)}`)
    }
  }
})

test('LocalSigner refuses schemes that do not fit its key, PKCS#1 v1.5, and aborted requests', async () => {
  const signer = new LocalSigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
  await assert.rejects(signer.sign(SignatureScheme.rsa_pkcs1_sha256, content), /does not fit/)
  await assert.rejects(signer.sign(SignatureScheme.ecdsa_secp256r1_sha256, content), /does not fit/)
  const ac = new AbortController()
  ac.abort()
  await assert.rejects(
    signer.sign(SignatureScheme.rsa_pss_rsae_sha256, content, { signal: ac.signal }),
    /aborted/,
  )
  assert.throws(
    () => new LocalSigner(generateKeyPairSync('x25519').privateKey),
    /no TLS 1.3 scheme/,
  )
})

test('LocalSigner.signNow() signs ECDSA and EdDSA at once; RSA keys have none (thread pool only)', () => {
  for (const [kp, scheme] of [
    [generateKeyPairSync('ec', { namedCurve: 'P-256' }), SignatureScheme.ecdsa_secp256r1_sha256],
    [generateKeyPairSync('ed25519'), SignatureScheme.ed25519],
  ] as const) {
    const signer = new LocalSigner(kp.privateKey)
    assert.ok(signer.signNow)
    assert.equal(check(kp.publicKey, scheme, signer.signNow(scheme, content)), true)
    assert.throws(
      () => signer.signNow?.(SignatureScheme.rsa_pss_rsae_sha256, content),
      /does not fit/,
    )
  }
  const rsa = new LocalSigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
  assert.equal(rsa.signNow, undefined)
})
