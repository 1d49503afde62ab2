/**
 * The node CA: issues node (mTLS client) certificates from enrolment CSRs,
 * carrying the node's identity as SAN URIs (@outpost/pki's convention, via
 * `nodeIdentityUris`). The CA key is imported once as a non-extractable
 * WebCrypto key; the PEM bytes it came from are zeroised.
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { webcrypto } from 'node:crypto'
import {
  loadNodeCertificateAuthority,
  pemEncode,
  type Issued,
  type NodeIdentity,
} from '@outpost/pki'
import { ControlError } from './errors.ts'

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])

export interface NodeCa {
  readonly certPem: string
  issue(csrPem: string, id: NodeIdentity, validDays?: number): Promise<IssuedNode>
}

export interface IssuedNode {
  readonly certPem: string
  readonly serial: string
  readonly notAfter: string
}

/** Loads a node CA from its certificate and PKCS#8 key (the key bytes are zeroised). */
export async function loadNodeCa(ca: Issued): Promise<NodeCa> {
  const authority = await loadNodeCertificateAuthority(ca)
  return {
    certPem: authority.certPem,
    async issue(csrPem, id, validDays = 90) {
      let csr: x509.Pkcs10CertificateRequest
      try {
        csr = new x509.Pkcs10CertificateRequest(csrPem)
      } catch (e) {
        throw new ControlError('ERR_CONTROL_CSR', `Cannot parse CSR: ${(e as Error).message}`)
      }
      // Proof of possession: the node holds the private key of the public key it asks for.
      if (!(await csr.verify())) {
        throw new ControlError(
          'ERR_CONTROL_CSR',
          'Cannot accept CSR: its signature does not verify',
        )
      }
      const publicKey = (await csr.publicKey.export()) as unknown as webcrypto.CryptoKey
      const signed = await authority.issueNodeCertificate(publicKey, id, validDays)
      return {
        certPem: signed.certPem,
        serial: signed.serial,
        notAfter: signed.notAfter.toISOString(),
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
