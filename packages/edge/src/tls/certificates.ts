/**
 * The edge's certificate source for the TLS server: per host name, the public
 * chain from the site's PEM files and a RemoteSigner for its key on the key
 * server. Selection happens on the ClientHello, before any key exchange or
 * signature: a name no site serves (or no name at all) ends the handshake
 * there, so it costs neither a key-server round trip nor an ECDHE.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  AlertDescription,
  PeerIncompatibleError,
  certificatesFromPem,
  schemesForKey,
  type CertificateQuery,
  type CertificateSelection,
  type CertificateSource,
  type Signer,
} from '@outpost/tls'
import { RemoteSigner, skiOf } from '@outpost/keyless'
import { fromHex, toHex } from '@outpost/wire'
import type { EdgeConfig } from '../config.ts'
import { EdgeError } from '../errors.ts'
import type { KeyPool } from './key-pools.ts'

export interface SiteCertificate {
  readonly chain: readonly Uint8Array[]
  readonly signer: Signer
  /** The site's first host name: the key of its per-zone handshake budget. */
  readonly zone: string
}

/**
 * Reads every TLS site's chain and builds its signer. Fails (naming the site)
 * when a chain is empty or the configured SKI is not the certificate's key.
 */
export function buildSiteCertificates(
  config: EdgeConfig,
  pools: ReadonlyMap<string, KeyPool>,
  wrap: (s: Signer) => Signer = (s) => s,
): Map<string, SiteCertificate> {
  const out = new Map<string, SiteCertificate>()
  config.sites.forEach((site, i) => {
    if (site.key === undefined || site.certificates.length === 0) return
    const chain = site.certificates.flatMap((f) => certificatesFromPem(readFileSync(f, 'utf8')))
    const leafDer = chain[0]
    if (leafDer === undefined) {
      throw new EdgeError(
        'ERR_EDGE_CONFIG',
        `Cannot load sites.${i}.certificates: no certificate in the PEM files`,
      )
    }
    const leaf = new X509Certificate(leafDer)
    const ski = fromHex(site.key.ski)
    const actual = skiOf(leaf.publicKey)
    if (toHex(actual) !== toHex(ski)) {
      throw new EdgeError(
        'ERR_EDGE_CONFIG',
        `Cannot load sites.${i}.key.ski: the certificate's key has SKI ${toHex(actual)}`,
      )
    }
    const pool = pools.get(site.key.pool)
    if (pool === undefined) {
      throw new EdgeError(
        'ERR_EDGE_CONFIG',
        `Cannot load sites.${i}.key.pool: no pool ${site.key.pool}`,
      )
    }
    const signer = wrap(
      pool.queue.wrap(
        new RemoteSigner({ client: pool.client, ski, schemes: schemesForKey(leaf.publicKey) }),
      ),
    )
    const entry: SiteCertificate = { chain, signer, zone: site.hosts[0] ?? '' }
    for (const h of site.hosts) out.set(h, entry)
  })
  return out
}

/** Picks the certificate by SNI from whatever the current state holds (reload swaps it). */
export class EdgeCertificateSource implements CertificateSource {
  readonly #current: () => ReadonlyMap<string, SiteCertificate>

  constructor(current: () => ReadonlyMap<string, SiteCertificate>) {
    this.#current = current
  }

  select(q: CertificateQuery): CertificateSelection | undefined {
    const name = q.serverName
    if (name === undefined) return undefined
    const site = this.#lookup(name)
    if (site === undefined) return undefined
    if (!site.signer.schemes.some((s) => q.signatureSchemes.includes(s))) {
      throw new PeerIncompatibleError(
        AlertDescription.HandshakeFailure,
        'Cannot select certificate: no common signature scheme',
      )
    }
    return { chain: site.chain, signer: site.signer }
  }

  /** The zone (site) serving `serverName`, for per-zone handshake budgets. */
  zoneOf(serverName: string): string | undefined {
    return this.#lookup(serverName)?.zone
  }

  #lookup(name: string): SiteCertificate | undefined {
    const map = this.#current()
    const dot = name.indexOf('.')
    return map.get(name) ?? (dot === -1 ? undefined : map.get(`*${name.slice(dot)}`))
  }
}
