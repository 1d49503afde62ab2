/**
 * PEM encoding and decoding straight between bytes, so private keys never pass
 * through a JS string (strings cannot be zeroised; see docs node-secrets).
 */
const ALPHABET = new TextEncoder().encode(
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
)
const DECODE = new Int16Array(256).fill(-1)
ALPHABET.forEach((c, i) => (DECODE[c] = i))

export class PemError extends Error {
  readonly code = 'ERR_PKI_PEM'
  constructor(message: string) {
    super(message)
    this.name = 'PemError'
  }
}

/** Encodes DER as PEM with 64-column lines, into a Buffer. */
export function pemEncode(label: string, der: Uint8Array): Buffer {
  const head = Buffer.from(`-----BEGIN ${label}-----\n`)
  const tail = Buffer.from(`-----END ${label}-----\n`)
  const b64Len = Math.ceil(der.length / 3) * 4
  const body = Buffer.alloc(b64Len + Math.ceil(b64Len / 64))
  let o = 0
  let col = 0
  const put = (c: number): void => {
    body[o++] = c
    if (++col === 64) {
      body[o++] = 0x0a
      col = 0
    }
  }
  for (let i = 0; i < der.length; i += 3) {
    const a = der[i] as number
    const b = i + 1 < der.length ? (der[i + 1] as number) : 0
    const c = i + 2 < der.length ? (der[i + 2] as number) : 0
    put(ALPHABET[a >> 2] as number)
    put(ALPHABET[((a & 3) << 4) | (b >> 4)] as number)
    put(i + 1 < der.length ? (ALPHABET[((b & 15) << 2) | (c >> 6)] as number) : 0x3d)
    put(i + 2 < der.length ? (ALPHABET[c & 63] as number) : 0x3d)
  }
  if (col !== 0) body[o++] = 0x0a
  return Buffer.concat([head, body.subarray(0, o), tail])
}

/** Decodes every PEM block with `label` (all blocks if undefined) from bytes. */
export function pemDecodeAll(pem: Uint8Array, label?: string): { label: string; der: Buffer }[] {
  const text = Buffer.from(pem.buffer, pem.byteOffset, pem.byteLength)
  const out: { label: string; der: Buffer }[] = []
  let at = 0
  for (;;) {
    const begin = text.indexOf('-----BEGIN ', at)
    if (begin < 0) break
    const labelEnd = text.indexOf('-----', begin + 11)
    if (labelEnd < 0) throw new PemError('Cannot decode PEM: unterminated BEGIN line')
    const found = text.subarray(begin + 11, labelEnd).toString('latin1')
    const endMarker = `-----END ${found}-----`
    const end = text.indexOf(endMarker, labelEnd + 5)
    if (end < 0) throw new PemError(`Cannot decode PEM: no END line for "${found}"`)
    at = end + endMarker.length
    if (label !== undefined && found !== label) continue
    out.push({ label: found, der: base64Decode(text.subarray(labelEnd + 5, end)) })
  }
  return out
}

/** Decodes the first PEM block with `label`. */
export function pemDecode(pem: Uint8Array, label: string): Buffer {
  const blocks = pemDecodeAll(pem, label)
  const first = blocks[0]
  if (!first) throw new PemError(`Cannot decode PEM: no "${label}" block found`)
  return first.der
}

function base64Decode(b64: Uint8Array): Buffer {
  const out = Buffer.alloc(Math.floor((b64.length * 3) / 4))
  let acc = 0
  let bits = 0
  let o = 0
  for (const c of b64) {
    if (c === 0x3d) break
    const v = DECODE[c] as number
    if (v < 0) {
      if (c === 0x0a || c === 0x0d || c === 0x20 || c === 0x09) continue
      throw new PemError(`Cannot decode PEM: invalid base64 byte 0x${c.toString(16)}`)
    }
    acc = (acc << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  return out.subarray(0, o)
}
