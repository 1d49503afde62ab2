/**
 * Throwaway certificates for tests (from @outpost/pki): one ECDSA P-256 and one
 * RSA-2048 leaf, each from its own CA, SANs test.example, localhost, server
 * (the RFC 8448 name), 127.0.0.1. Cached per process.
 */
import { createCa, issueServerCert, type Issued } from '@outpost/pki'
import { createPrivateKey } from 'node:crypto'
import { StaticCertificateSource, certificatesFromPem } from '../../src/certificates.ts'
import { LocalSigner } from '../../src/local-signer.ts'

export interface TestPki {
  readonly ecdsaCa: Issued
  readonly rsaCa: Issued
  readonly ecdsa: Issued
  readonly rsa: Issued
  /** ECDSA first, then RSA. */
  readonly source: StaticCertificateSource
  readonly ecdsaSigner: LocalSigner
  readonly rsaSigner: LocalSigner
}

let cached: Promise<TestPki> | undefined

const names = { dnsNames: ['test.example', 'localhost', 'server'], ipAddresses: ['127.0.0.1'] }

async function build(): Promise<TestPki> {
  const ecdsaCa = await createCa({ commonName: 'TLS test ECDSA CA', keyType: 'ecdsa-p256' })
  const rsaCa = await createCa({ commonName: 'TLS test RSA CA', keyType: 'rsa-2048' })
  const ecdsa = await issueServerCert({
    ca: ecdsaCa,
    commonName: 'test.example',
    keyType: 'ecdsa-p256',
    ...names,
  })
  const rsa = await issueServerCert({
    ca: rsaCa,
    commonName: 'test.example',
    keyType: 'rsa-2048',
    ...names,
  })
  const ecdsaSigner = new LocalSigner(createPrivateKey(ecdsa.keyPem))
  const rsaSigner = new LocalSigner(createPrivateKey(rsa.keyPem))
  const source = new StaticCertificateSource([
    { chain: certificatesFromPem(ecdsa.certPem), signer: ecdsaSigner },
    { chain: certificatesFromPem(rsa.certPem), signer: rsaSigner },
  ])
  return { ecdsaCa, rsaCa, ecdsa, rsa, source, ecdsaSigner, rsaSigner }
}

export function testCertificates(): Promise<TestPki> {
  cached ??= build()
  return cached
}
