/** Small byte helpers shared by every package. */
import { timingSafeEqual } from 'node:crypto'
import { DecodeError } from './errors.ts'

/** Constant-time equality for MACs and secrets (Go `hmac.Equal`, rustls `ConstantTimeEq`). */
export function ctEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  return timingSafeEqual(a, b)
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const HEX = '0123456789abcdef'

export function toHex(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += (HEX[x >> 4] as string) + (HEX[x & 15] as string)
  return s
}

/** Parses hex, ignoring whitespace and colons (so RFC dumps paste verbatim). */
export function fromHex(s: string): Uint8Array {
  const clean = s.replace(/[\s:]/g, '')
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) {
    throw new DecodeError(`Cannot decode hex: invalid input of length ${clean.length}`)
  }
  const out = new Uint8Array(clean.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** Overwrites secret bytes. Call when a secret's life ends. */
export function zeroize(...bufs: readonly (Uint8Array | undefined)[]): void {
  for (const b of bufs) b?.fill(0)
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
