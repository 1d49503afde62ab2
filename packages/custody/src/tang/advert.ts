/**
 * Tang adverts: the JWS-signed JWK set served at `GET /adv` (tang(8)). The payload is
 * `{"keys":[...]}` with ES512 signing keys (`key_ops: ["verify"]`) and ECMR exchange
 * keys (`key_ops: ["deriveKey"]`). An advert is only used once one of its own ES512
 * keys has verified its signature, and, when the caller pins `thp`, that key is the
 * pinned one (clevis-encrypt-tang(1) "thp").
 */
import { JoseError } from '../errors.ts'
import {
  b64uDecode,
  isRecord,
  matchesKid,
  parseEcJwk,
  parseJson,
  verifyEs512,
  type EcJwk,
} from './jose.ts'

/** A JWS in JSON serialization, flattened (tang 11) or general (RFC 7515 §7.2). */
export interface AdvertJws {
  readonly payload: string
  readonly protected?: string
  readonly signature?: string
  readonly signatures?: readonly { readonly protected: string; readonly signature: string }[]
}

export interface VerifiedAdvert {
  /** Every key in the set, as served. */
  readonly keys: readonly EcJwk[]
  /** The ES512 key that verified the signature. */
  readonly signer: EcJwk
}

function signaturesOf(jws: Record<string, unknown>): { protected: string; signature: string }[] {
  const out: { protected: string; signature: string }[] = []
  const push = (s: unknown): void => {
    if (isRecord(s) && typeof s['protected'] === 'string' && typeof s['signature'] === 'string') {
      out.push({ protected: s['protected'], signature: s['signature'] })
    } else {
      throw new JoseError('Cannot decode advert: malformed signature entry')
    }
  }
  if (jws['signatures'] !== undefined) {
    if (!Array.isArray(jws['signatures'])) {
      throw new JoseError('Cannot decode advert: signatures is not a list')
    }
    for (const s of jws['signatures'] as unknown[]) push(s)
  } else push(jws)
  return out
}

/** Parses the key list of a JWK set, keeping only P-521 EC keys (others are ignored). */
export function parseKeySet(v: unknown): EcJwk[] {
  if (!isRecord(v) || !Array.isArray(v['keys'])) {
    throw new JoseError('Cannot decode JWK set: missing "keys" list')
  }
  return (v['keys'] as unknown[]).map((k, i) => parseEcJwk(k, `JWK set key ${i}`))
}

/**
 * Verifies an advert and returns its keys.
 *
 * @example
 * ```ts
 * const jws = await (await fetch('http://tang.example/adv')).json()
 * const { keys } = verifyAdvert(jws, { thp: 'yuOOpR0T...' })
 * ```
 */
export function verifyAdvert(jws: unknown, opts: { thp?: string } = {}): VerifiedAdvert {
  const doc = typeof jws === 'string' ? parseJson(jws, 'advert') : jws
  if (!isRecord(doc) || typeof doc['payload'] !== 'string') {
    throw new JoseError('Cannot decode advert: not a JWS in JSON serialization')
  }
  const payloadB64 = doc['payload']
  const keys = parseKeySet(
    parseJson(b64uDecode(payloadB64, 'advert payload').toString('utf8'), 'advert payload'),
  )
  const signers = keys.filter((k) => k.alg === 'ES512' && (k.key_ops?.includes('verify') ?? true))
  if (signers.length === 0) throw new JoseError('Cannot verify advert: no ES512 signing key')
  for (const sig of signaturesOf(doc)) {
    const header = parseJson(b64uDecode(sig.protected, 'JWS header').toString('utf8'), 'JWS header')
    if (!isRecord(header) || header['alg'] !== 'ES512') continue
    const input = Buffer.from(`${sig.protected}.${payloadB64}`, 'ascii')
    const raw = b64uDecode(sig.signature, 'JWS signature')
    for (const k of signers) {
      if (opts.thp !== undefined && !matchesKid(k, opts.thp)) continue
      if (verifyEs512(input, raw, k)) return { keys, signer: k }
    }
  }
  throw new JoseError(
    opts.thp !== undefined
      ? `Cannot verify advert: not signed by the pinned key ${opts.thp}`
      : 'Cannot verify advert: no valid ES512 signature',
  )
}

/** The exchange (ECMR) keys of an advert, in order. */
export function exchangeKeys(keys: readonly EcJwk[]): EcJwk[] {
  return keys.filter((k) => k.alg === 'ECMR' && (k.key_ops?.includes('deriveKey') ?? true))
}
