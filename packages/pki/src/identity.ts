/**
 * Node identity in certificates (ADR 0004). A node certificate carries, as
 * subjectAltName URIs (RFC 5280 §4.2.1.6):
 *
 *   urn:outpost:node:<node-id>      node id:  [A-Za-z0-9][A-Za-z0-9._-]{0,62}
 *   urn:outpost:region:<region>     region:   [a-z0-9][a-z0-9-]{0,31}
 *   urn:outpost:country:<CC>        country:  ISO 3166-1 alpha-2, upper case
 *
 * The subject repeats them for people reading `openssl x509 -text`
 * (CN=<node-id>, OU=<region>, C=<CC>), but only the SAN URIs are authoritative:
 * the key server reads them from the verified peer certificate.
 */
import type { X509Certificate } from 'node:crypto'

export interface NodeIdentity {
  readonly nodeId: string
  readonly region: string
  readonly country: string
}

export const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
export const REGION_RE = /^[a-z0-9][a-z0-9-]{0,31}$/
export const COUNTRY_RE = /^[A-Z]{2}$/

export class IdentityError extends Error {
  readonly code = 'ERR_PKI_IDENTITY'
  constructor(message: string) {
    super(message)
    this.name = 'IdentityError'
  }
}

/** Checks the fields and throws IdentityError naming the bad one. */
export function validateNodeIdentity(id: NodeIdentity): NodeIdentity {
  if (!NODE_ID_RE.test(id.nodeId)) throw new IdentityError(`Invalid node id: "${id.nodeId}"`)
  if (!REGION_RE.test(id.region)) throw new IdentityError(`Invalid region: "${id.region}"`)
  if (!COUNTRY_RE.test(id.country))
    throw new IdentityError(`Invalid country: "${id.country}" (expected ISO 3166-1 alpha-2)`)
  return id
}

/** The SAN URIs for an identity. */
export function nodeIdentityUris(id: NodeIdentity): string[] {
  validateNodeIdentity(id)
  return [
    `urn:outpost:node:${id.nodeId}`,
    `urn:outpost:region:${id.region}`,
    `urn:outpost:country:${id.country}`,
  ]
}

/**
 * Reads the node identity from a certificate's subjectAltName, or undefined if
 * the certificate is not a node certificate. A certificate with more than one
 * value for a field, or a malformed value, is not a node certificate.
 *
 * @example
 * ```ts
 * const id = nodeIdentityFromCert(tlsSocket.getPeerX509Certificate())
 * if (id) console.log(id.nodeId, id.region, id.country)
 * ```
 */
export function nodeIdentityFromCert(cert: X509Certificate | undefined): NodeIdentity | undefined {
  const san = cert?.subjectAltName
  if (san === undefined) return undefined
  return nodeIdentityFromSan(san)
}

/** Parses Node's `subjectAltName` string form ("URI:..., DNS:..."). */
export function nodeIdentityFromSan(san: string): NodeIdentity | undefined {
  const found: Record<'node' | 'region' | 'country', string[]> = {
    node: [],
    region: [],
    country: [],
  }
  for (const entry of san.split(', ')) {
    if (!entry.startsWith('URI:')) continue
    let uri = entry.slice(4)
    // Node quotes values with special characters as JSON strings.
    if (uri.startsWith('"')) {
      try {
        uri = JSON.parse(uri) as string
      } catch {
        return undefined
      }
    }
    const m = /^urn:outpost:(node|region|country):(.*)$/.exec(uri)
    if (!m) continue
    found[m[1] as 'node' | 'region' | 'country'].push(m[2] ?? '')
  }
  if (found.node.length !== 1 || found.region.length !== 1 || found.country.length !== 1)
    return undefined
  const id = {
    nodeId: found.node[0] ?? '',
    region: found.region[0] ?? '',
    country: found.country[0] ?? '',
  }
  try {
    return validateNodeIdentity(id)
  } catch {
    return undefined
  }
}
