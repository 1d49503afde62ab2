/**
 * The compact clearance token (cookie) issued after a solved challenge.
 *
 *   token   = base64url(payload ‖ tag)                              (46 characters)
 *   payload = version(1)=1 ‖ flags(1) ‖ epoch(4) ‖ expiry(4, Unix s) ‖ id(8, random)
 *   tag     = HMAC-SHA256(key[epoch], payload ‖ 0 ‖ zone ‖ 0 ‖ user-agent ‖ 0 ‖ prefix)[0..16]
 *
 * The token is bound to the zone, the User-Agent and (flags bit 0) the client prefix by
 * the MAC itself: they are never stored in the cookie, and one HMAC is the whole cost of
 * verification (attack-protection.md §0.7: a compact own HMAC token, not a JWT).
 * Verification always computes the HMAC (with a dummy key for unknown epochs) and checks
 * every field without early exit, so forged, expired, wrong-zone, wrong-epoch and
 * truncated tokens cost the same (AP7). `id` keys the per-token rate limit (AP8).
 */
import { randomBytes } from 'node:crypto'
import { ctEqual } from '@outpost/wire'
import type { KeyRing } from './keys.ts'

const VERSION = 1
const PAYLOAD = 18
const TAG = 16
export const TOKEN_CHARS = Math.ceil(((PAYLOAD + TAG) * 4) / 3)

export interface Binding {
  readonly zone: string
  readonly userAgent: string
  /** The client prefix, when prefix binding is on. */
  readonly prefix?: string
}

function bound(p: Uint8Array, zone: string, ua: string, prefix: string): Buffer {
  return Buffer.concat([p, Buffer.from(`\u0000${zone}\u0000${ua}\u0000${prefix}`)])
}

export function issueClearance(keys: KeyRing, b: Binding, nowMs: number, ttlS: number): string {
  const p = Buffer.alloc(PAYLOAD)
  p[0] = VERSION
  p[1] = b.prefix === undefined ? 0 : 1
  p.writeUInt32BE(keys.epoch, 2)
  p.writeUInt32BE(Math.floor(nowMs / 1000) + ttlS, 6)
  randomBytes(8).copy(p, 10)
  const tag = keys
    .mac(keys.epoch, bound(p, b.zone, b.userAgent, b.prefix ?? ''))
    .mac.subarray(0, TAG)
  return Buffer.concat([p, tag]).toString('base64url')
}

export type Verified =
  { readonly ok: true; readonly id: string; readonly expiry: number } | { readonly ok: false }

const ZERO = Buffer.alloc(PAYLOAD + TAG)

/** Verifies a token for this zone, UA and (when the token is prefix-bound) prefix. */
export function verifyClearance(
  keys: KeyRing,
  token: string,
  b: { readonly zone: string; readonly userAgent: string; readonly prefix: string },
  nowMs: number,
): Verified {
  let raw = token.length === TOKEN_CHARS ? Buffer.from(token, 'base64url') : ZERO
  let good = raw.length === PAYLOAD + TAG && token.length === TOKEN_CHARS
  if (raw.length !== PAYLOAD + TAG) raw = ZERO
  const p = raw.subarray(0, PAYLOAD)
  const { mac, known } = keys.mac(
    p.readUInt32BE(2),
    bound(p, b.zone, b.userAgent, p[1] === 1 ? b.prefix : ''),
  )
  good = ctEqual(mac.subarray(0, TAG), raw.subarray(PAYLOAD)) && good && known
  good = p[0] === VERSION && good
  good = p.readUInt32BE(6) * 1000 > nowMs && good
  return good
    ? { ok: true, id: p.subarray(10, 18).toString('hex'), expiry: p.readUInt32BE(6) }
    : { ok: false }
}
