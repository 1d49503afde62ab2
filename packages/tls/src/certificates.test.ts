import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createPrivateKey } from 'node:crypto'
import { createCa, issueServerCert, type Issued } from '@outpost/pki'
import { StaticCertificateSource, certificatesFromPem } from './certificates.ts'
import { LocalSigner } from './local-signer.ts'
import { PeerIncompatibleError } from './errors.ts'
import { SignatureScheme } from './constants.ts'

let byRsaCa: { chain: Uint8Array[]; signer: LocalSigner }
let byEcCa: { chain: Uint8Array[]; signer: LocalSigner }
let rsaLeaf: { chain: Uint8Array[]; signer: LocalSigner }

const entry = (i: Issued): { chain: Uint8Array[]; signer: LocalSigner } => ({
  chain: certificatesFromPem(i.certPem),
  signer: new LocalSigner(createPrivateKey(i.keyPem)),
})

before(async () => {
  const rsaCa = await createCa({ commonName: 'RSA CA', keyType: 'rsa-2048' })
  const ecCa = await createCa({ commonName: 'EC CA', keyType: 'ecdsa-p256' })
  const names = { commonName: 'a.example', dnsNames: ['a.example', '*.b.example'] }
  byRsaCa = entry(await issueServerCert({ ca: rsaCa, keyType: 'ecdsa-p256', ...names }))
  byEcCa = entry(await issueServerCert({ ca: ecCa, keyType: 'ecdsa-p256', ...names }))
  rsaLeaf = entry(await issueServerCert({ ca: rsaCa, keyType: 'rsa-2048', ...names }))
})

const ecdsa = SignatureScheme.ecdsa_secp256r1_sha256
const pss = SignatureScheme.rsa_pss_rsae_sha256

test('StaticCertificateSource.select() matches names, wildcards included, and refuses unknown ones', () => {
  const src = new StaticCertificateSource([byEcCa])
  assert.ok(src.select({ serverName: 'a.example', signatureSchemes: [ecdsa] }))
  assert.ok(src.select({ serverName: 'x.b.example', signatureSchemes: [ecdsa] }))
  assert.equal(src.select({ serverName: 'b.example', signatureSchemes: [ecdsa] }), undefined)
  assert.equal(src.select({ serverName: 'evil.example', signatureSchemes: [ecdsa] }), undefined)
  assert.ok(src.select({ signatureSchemes: [ecdsa] }), 'no SNI: any certificate')
})

test('StaticCertificateSource.select() picks by key type from signature_algorithms', () => {
  const src = new StaticCertificateSource([byEcCa, rsaLeaf])
  assert.equal(
    src.select({ serverName: 'a.example', signatureSchemes: [pss] })?.signer,
    rsaLeaf.signer,
  )
  assert.equal(
    src.select({ serverName: 'a.example', signatureSchemes: [ecdsa, pss] })?.signer,
    byEcCa.signer,
  )
  assert.throws(
    () => src.select({ serverName: 'a.example', signatureSchemes: [SignatureScheme.ed25519] }),
    PeerIncompatibleError,
  )
})

test('StaticCertificateSource.select() prefers chains signed with signature_algorithms_cert', () => {
  const src = new StaticCertificateSource([byRsaCa, byEcCa])
  const q = { serverName: 'a.example', signatureSchemes: [ecdsa] }
  assert.equal(src.select({ ...q, signatureSchemesCert: [ecdsa] })?.signer, byEcCa.signer)
  assert.equal(
    src.select({ ...q, signatureSchemesCert: [SignatureScheme.rsa_pkcs1_sha256] })?.signer,
    byRsaCa.signer,
  )
  // Nothing acceptable: still answer with a chain (RFC 8446 §4.4.2.2), the first that fits the key.
  assert.equal(
    src.select({ ...q, signatureSchemesCert: [SignatureScheme.ed25519] })?.signer,
    byRsaCa.signer,
  )
})
