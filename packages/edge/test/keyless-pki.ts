/**
 * The PKI of a keyless edge on loopback, for tests and benchmarks: the operator's
 * node CA (mTLS between edge and key servers), a key-server certificate for
 * localhost/127.0.0.1, an edge node certificate, and a customer's ECDSA P-256
 * site certificate whose key goes only to the key servers.
 */
import { X509Certificate } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createCa, issueNodeCert, issueServerCert, type Issued } from '@outpost/pki'
import { skiOf } from '@outpost/keyless'
import { toHex } from '@outpost/wire'

export interface KeylessPki {
  /** Writes `data` to `dir/name` (mode 0600) and returns the path. */
  readonly write: (name: string, data: string | Uint8Array) => string
  /** The node CA (PEM file): key servers trust it, edges pin it. */
  readonly caFile: string
  readonly ksCert: Issued
  readonly edgeNode: Issued
  readonly siteCaPem: string
  /** The site certificate and its private key (callers import the key, then zero it). */
  readonly site: Issued
  /** The site chain (leaf + customer CA) as a PEM file. */
  readonly chainFile: string
  /** Hex SKI of the site key, as the edge config names it. */
  readonly ski: string
}

export async function keylessPki(
  dir: string,
  opts: { readonly nodeId: string; readonly host: string },
): Promise<KeylessPki> {
  const write = (name: string, data: string | Uint8Array): string => {
    const p = join(dir, name)
    writeFileSync(p, data, { mode: 0o600 })
    return p
  }
  const nodeCa = await createCa({ commonName: 'Test node CA' })
  const ksCert = await issueServerCert({
    ca: nodeCa,
    commonName: 'keyserver',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  })
  const edgeNode = await issueNodeCert({
    ca: nodeCa,
    nodeId: opts.nodeId,
    region: 'eu-central',
    country: 'DE',
  })
  const siteCa = await createCa({ commonName: 'Customer CA', keyType: 'ecdsa-p256' })
  const site = await issueServerCert({
    ca: siteCa,
    commonName: opts.host,
    dnsNames: [opts.host],
    ipAddresses: [],
    keyType: 'ecdsa-p256',
  })
  return {
    write,
    caFile: write('node-ca.pem', nodeCa.certPem),
    ksCert,
    edgeNode,
    siteCaPem: siteCa.certPem,
    site,
    chainFile: write('site-chain.pem', site.certPem + siteCa.certPem),
    ski: toHex(skiOf(new X509Certificate(site.certPem).publicKey)),
  }
}
