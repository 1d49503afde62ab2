/**
 * The node CA: issues node (mTLS client) certificates from enrolment CSRs,
 * carrying the node's identity as SAN URIs (@outpost/pki's convention, via
 * `nodeIdentityUris`). The CA key is imported once as a non-extractable
 * WebCrypto key; the PEM bytes it came from are zeroised.
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto'
import {
  nodeIdentityUris,
  pemDecode,
  pemEncode,
  type Issued,
  type NodeIdentity,
} from '@outpost/pki'
import { ControlError } from './errors.ts'

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])

type SignAlg = webcrypto.EcdsaParams | webcrypto.Algorithm | webcrypto.RsaHashedImportParams

export interface NodeCa {
  readonly certPem: string
  issue(csrPem: string, id: NodeIdentity, validDays?: number): Promise<IssuedNode>
}

export interface IssuedNode {
  readonly certPem: string
  readonly serial: string
  readonly notAfter: string
}

async function importCaKey(
  keyPem: Uint8Array,
): Promise<{ key: webcrypto.CryptoKey; alg: SignAlg }> {
  const der = pemDecode(keyPem, 'PRIVATE KEY')
  try {
    const ko = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    let gen: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams | webcrypto.Algorithm
    let alg: SignAlg
    if (ko.asymmetricKeyType === 'ed25519') {
      gen = { name: 'Ed25519' }
      alg = gen
    } else if (ko.asymmetricKeyType === 'rsa') {
      gen = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
      alg = gen
    } else {
      const p384 = ko.asymmetricKeyDetails?.namedCurve === 'secp384r1'
      gen = { name: 'ECDSA', namedCurve: p384 ? 'P-384' : 'P-256' }
      alg = { name: 'ECDSA', hash: p384 ? 'SHA-384' : 'SHA-256' }
    }
    const key = await webcrypto.subtle.importKey('pkcs8', der, gen, false, ['sign'])
    return { key, alg }
  } finally {
    der.fill(0)
  }
}

/** Loads a node CA from its certificate and PKCS#8 key (the key bytes are zeroised). */
export async function loadNodeCa(ca: Issued): Promise<NodeCa> {
  const caCert = new x509.X509Certificate(pemDecode(Buffer.from(ca.certPem), 'CERTIFICATE'))
  const signer = await importCaKey(ca.keyPem)
  ca.keyPem.fill(0)
  return {
    certPem: ca.certPem,
    async issue(csrPem, id, validDays = 90) {
      let csr: x509.Pkcs10CertificateRequest
      try {
        csr = new x509.Pkcs10CertificateRequest(csrPem)
      } catch (e) {
        throw new ControlError('ERR_CONTROL_CSR', `Cannot parse CSR: ${(e as Error).message}`)
      }
      if (!(await csr.verify())) {
        throw new ControlError(
          'ERR_CONTROL_CSR',
          'Cannot accept CSR: its signature does not verify',
        )
      }
      const serialBytes = randomBytes(16)
      serialBytes[0] = (serialBytes[0] ?? 0) & 0x7f
      const notBefore = new Date(Date.now() - 60_000)
      const notAfter = new Date(notBefore.getTime() + validDays * 86_400_000)
      // @peculiar/x509 types CryptoKey as the DOM global, absent under lib es2024.
      const publicKey = (await csr.publicKey.export()) as unknown as webcrypto.CryptoKey
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serialBytes.toString('hex'),
        subject: `CN=${id.nodeId}, OU=${id.region}, C=${id.country}, O=Outpost nodes`,
        issuer: caCert.subject,
        notBefore,
        notAfter,
        signingAlgorithm: signer.alg,
        publicKey,
        signingKey: signer.key,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
          new x509.SubjectAlternativeNameExtension(
            nodeIdentityUris(id).map((value) => ({ type: 'url' as const, value })),
            false,
          ),
          await x509.SubjectKeyIdentifierExtension.create(publicKey),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ],
      })
      return {
        certPem: cert.toString('pem') + '\n',
        serial: serialBytes.toString('hex'),
        notAfter: notAfter.toISOString(),
      }
    },
  }
}

/** Makes a CSR (for tests and the custody agent): PEM, from an ECDSA P-256 key pair. */
export async function createCsr(
  commonName: string,
): Promise<{ csrPem: string; keys: webcrypto.CryptoKeyPair }> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  })
  return { csrPem: csr.toString('pem'), keys }
}

/** PKCS#8 PEM of a WebCrypto private key, as a Buffer (zeroise when done). */
export async function exportKeyPem(key: webcrypto.CryptoKey): Promise<Buffer> {
  const der = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', key))
  const pem = pemEncode('PRIVATE KEY', der)
  der.fill(0)
  return pem
}
