/**
 * The compact clearance token (cookie) issued after a solved challenge.
 *
 *   token   = base64url(payload ‖ tag)                     (78 characters)
 *   payload = version(1)=1 ‖ flags(1) ‖ epoch(4) ‖ expiry(4, Unix s)
 *             ‖ H8(zone) ‖ H8(user-agent) ‖ H8(prefix or "") ‖ id(8, random)
 *   tag     = HMAC-SHA256(key[epoch], payload)[0..16]
 *   H8(x)   = SHA-256(x)[0..8]
 *
 * flags bit 0: bound to the client prefix. Verification always computes the HMAC
 * (with a dummy key for unknown epochs) and checks every field without early exit,
 * so forged, expired, wrong-zone, wrong-epoch and truncated tokens cost the same (AP7).
 */
import { createHash, randomBytes } from 'node:crypto'
import { ctEqual } from '@outpost/wire'
import type { KeyRing } from './keys.ts'

const VERSION = 1
const PAYLOAD = 42
const TAG = 16
export const TOKEN_CHARS = Math.ceil(((PAYLOAD + TAG) * 4) / 3)

export function h8(s: string): Buffer {
  return createHash('sha256').update(s).digest().subarray(0, 8)
}

export interface Binding {
  readonly zone: string
  readonly userAgent: string
  /** The client prefix, when prefix binding is on. */
  readonly prefix?: string
}

export function issueClearance(keys: KeyRing, b: Binding, nowMs: number, ttlS: number): string {
  const p = Buffer.alloc(PAYLOAD)
  p[0] = VERSION
  p[1] = b.prefix === undefined ? 0 : 1
  p.writeUInt32BE(keys.epoch, 2)
  p.writeUInt32BE(Math.floor(nowMs / 1000) + ttlS, 6)
  h8(b.zone).copy(p, 10)
  h8(b.userAgent).copy(p, 18)
  h8(b.prefix ?? '').copy(p, 26)
  randomBytes(8).copy(p, 34)
  const tag = keys.mac(keys.epoch, p).mac.subarray(0, TAG)
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
  const epoch = p.readUInt32BE(2)
  const { mac, known } = keys.mac(epoch, p)
  good = ctEqual(mac.subarray(0, TAG), raw.subarray(PAYLOAD)) && good && known
  good = p[0] === VERSION && good
  good = p.readUInt32BE(6) * 1000 > nowMs && good
  good = ctEqual(p.subarray(10, 18), h8(b.zone)) && good
  good = ctEqual(p.subarray(18, 26), h8(b.userAgent)) && good
  good = ctEqual(p.subarray(26, 34), h8(p[1] === 1 ? b.prefix : '')) && good
  return good
    ? { ok: true, id: p.subarray(34, 42).toString('hex'), expiry: p.readUInt32BE(6) }
    : { ok: false }
}
