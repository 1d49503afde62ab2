/** Just enough DER reading for key material: one TLV at a time (X.690 §8.1). */
import { Reader } from '@outpost/wire'

/** Reads one TLV with the expected tag and returns a reader over its contents. */
export function derTlv(r: Reader, tag: number, what: string): Reader {
  const t = r.u8(`${what} tag`)
  if (t !== tag) throw new RangeError(`Cannot decode ${what}: expected DER tag ${tag}, got ${t}`)
  let len = r.u8(`${what} length`)
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 3) throw new RangeError(`Cannot decode ${what}: unsupported DER length`)
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + r.u8(`${what} length`)
  }
  return r.sub(len, what)
}

/** DER INTEGER encoding of an unsigned big-endian magnitude. */
export function derUint(mag: Uint8Array): Uint8Array {
  let i = 0
  while (i < mag.length - 1 && mag[i] === 0) i++
  const body = mag.subarray(i)
  const pad = ((body[0] ?? 0) & 0x80) !== 0 ? 1 : 0
  return derWrap(0x02, pad ? concat2(new Uint8Array([0]), body) : body)
}

export function derWrap(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length
  const head =
    n < 0x80
      ? [tag, n]
      : n < 0x100
        ? [tag, 0x81, n]
        : n < 0x10000
          ? [tag, 0x82, n >> 8, n & 0xff]
          : [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]
  return concat2(new Uint8Array(head), body)
}

/** Raw r‖s (PKCS#11 CKM_ECDSA output) to DER `SEQUENCE { r INTEGER, s INTEGER }`. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new RangeError(`Cannot encode ECDSA signature: odd raw length ${raw.length}`)
  }
  const half = raw.length / 2
  return derWrap(0x30, concat2(derUint(raw.subarray(0, half)), derUint(raw.subarray(half))))
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
