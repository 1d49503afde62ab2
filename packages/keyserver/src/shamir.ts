/**
 * Shamir secret sharing over GF(2^8) (Shamir 1979, "How to share a secret"),
 * byte by byte: each secret byte is the constant term of its own random
 * polynomial of degree k-1, and share x holds the polynomials' values at x.
 * Any k shares give the secret by Lagrange interpolation at 0; k-1 shares are
 * consistent with every possible secret.
 *
 * The field is GF(2)[X]/(X^8+X^4+X^3+X+1), the AES field. Multiplication is
 * computed bit by bit with masks instead of log/exp tables, so no table index
 * depends on a secret.
 */
import { randomBytes } from 'node:crypto'
import { toHex } from '@outpost/wire'
import { ShareError } from './errors.ts'

export interface Share {
  /** The evaluation point, 1..255. */
  readonly x: number
  /** One byte per secret byte. */
  readonly y: Uint8Array
}

/** a*b in GF(256), without secret-dependent branches or table lookups. */
export function gfMul(a: number, b: number): number {
  let p = 0
  for (let i = 0; i < 8; i++) {
    p ^= -(b & 1) & a
    const hi = -((a >> 7) & 1)
    a = ((a << 1) ^ (hi & 0x1b)) & 0xff
    b >>= 1
  }
  return p & 0xff
}

/** a^-1 in GF(256) as a^254 (Fermat); 0 maps to 0. */
export function gfInv(a: number): number {
  let r = 1
  let base = a
  let e = 254
  while (e > 0) {
    if (e & 1) r = gfMul(r, base)
    base = gfMul(base, base)
    e >>= 1
  }
  return r
}

/**
 * Splits `secret` into `n` shares, any `threshold` of which reconstruct it.
 *
 * @example
 * ```ts
 * const shares = split(secret, 5, 3)
 * combine([shares[0], shares[2], shares[4]]) // equals secret
 * ```
 */
export function split(
  secret: Uint8Array,
  n: number,
  threshold: number,
  random: (size: number) => Uint8Array = randomBytes,
): Share[] {
  if (!Number.isInteger(n) || n < 1 || n > 255) {
    throw new RangeError(`Cannot split secret: share count must be 1..255, current value is ${n}`)
  }
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > n) {
    throw new RangeError(
      `Cannot split secret: threshold must be 1..${n}, current value is ${threshold}`,
    )
  }
  const shares = Array.from({ length: n }, (_, i) => ({
    x: i + 1,
    y: new Uint8Array(secret.length),
  }))
  const coeffs = new Uint8Array(threshold)
  for (let b = 0; b < secret.length; b++) {
    coeffs[0] = secret[b] as number
    const rnd = random(threshold - 1)
    coeffs.set(rnd, 1)
    rnd.fill(0)
    for (const share of shares) {
      // Horner's rule from the highest coefficient down.
      let acc = 0
      for (let j = threshold - 1; j >= 0; j--) acc = gfMul(acc, share.x) ^ (coeffs[j] as number)
      share.y[b] = acc
    }
  }
  coeffs.fill(0)
  return shares
}

/**
 * Interpolates the shares' polynomials at 0. With fewer shares than the
 * threshold the result is a value unrelated to the secret; callers detect that
 * with a check value (see sealed-keystore.ts).
 */
export function combine(shares: readonly Share[]): Uint8Array {
  const first = shares[0]
  if (first === undefined) throw new ShareError('Cannot combine shares: no shares given')
  const len = first.y.length
  const seen = new Set<number>()
  for (const s of shares) {
    if (s.y.length !== len) {
      throw new ShareError(`Cannot combine shares: lengths differ (${len} and ${s.y.length} bytes)`)
    }
    if (s.x < 1 || s.x > 255 || !Number.isInteger(s.x)) {
      throw new ShareError(`Cannot combine shares: share index must be 1..255, got ${s.x}`)
    }
    if (seen.has(s.x)) throw new ShareError(`Cannot combine shares: share ${s.x} given twice`)
    seen.add(s.x)
  }
  // Lagrange basis at 0: l_i(0) = prod_{j != i} x_j / (x_j - x_i); in GF(2^8) minus is xor.
  const basis = shares.map((si, i) => {
    let num = 1
    let den = 1
    shares.forEach((sj, j) => {
      if (i === j) return
      num = gfMul(num, sj.x)
      den = gfMul(den, sj.x ^ si.x)
    })
    return gfMul(num, gfInv(den))
  })
  const out = new Uint8Array(len)
  for (let b = 0; b < len; b++) {
    let acc = 0
    shares.forEach((s, i) => {
      acc ^= gfMul(s.y[b] as number, basis[i] as number)
    })
    out[b] = acc
  }
  return out
}

const SHARE_PREFIX = 'oks1'

/**
 * The printable form of a share: `oks1-<x, 2 hex>-<y, hex>`. It is shown to an
 * operator once, which is the one place a share exists as a string.
 */
export function encodeShare(share: Share): string {
  return `${SHARE_PREFIX}-${toHex(new Uint8Array([share.x]))}-${toHex(share.y)}`
}

/**
 * Parses the printable form from bytes (what the admin API receives), without
 * turning the secret part into a JS string.
 */
export function decodeShare(input: Uint8Array): Share {
  let end = input.length
  while (end > 0 && isSpace(input[end - 1] as number)) end--
  let start = 0
  while (start < end && isSpace(input[start] as number)) start++
  const text = input.subarray(start, end)
  const head = new TextEncoder().encode(`${SHARE_PREFIX}-`)
  if (text.length < head.length + 4 || !head.every((c, i) => text[i] === c)) {
    throw new ShareError(`Cannot decode share: expected the form ${SHARE_PREFIX}-XX-HEX`)
  }
  const xPart = text.subarray(head.length, head.length + 2)
  if (text[head.length + 2] !== 0x2d) {
    throw new ShareError(`Cannot decode share: expected the form ${SHARE_PREFIX}-XX-HEX`)
  }
  const yPart = text.subarray(head.length + 3)
  const x = unhex(xPart)[0] ?? 0
  if (x === 0) throw new ShareError('Cannot decode share: share index must be 1..255, got 0')
  const y = unhex(yPart)
  if (y.length === 0) throw new ShareError('Cannot decode share: empty share value')
  return { x, y }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  return -1
}

function unhex(text: Uint8Array): Uint8Array {
  if (text.length % 2 !== 0) throw new ShareError('Cannot decode share: odd number of hex digits')
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(text[2 * i] as number)
    const lo = nibble(text[2 * i + 1] as number)
    if (hi < 0 || lo < 0) {
      out.fill(0)
      throw new ShareError('Cannot decode share: invalid hex digit')
    }
    out[i] = (hi << 4) | lo
  }
  return out
}
