/**
 * EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with MGF1 (§B.2.1), for signing a hash the
 * client computed: node:crypto only signs messages, so for the keyless
 * RSA-PSS opcodes we encode here and do the raw RSA operation ourselves.
 */
import { createHash, randomBytes } from 'node:crypto'

export type PssHash = 'sha256' | 'sha384' | 'sha512'

export const hashLength: Record<PssHash, number> = { sha256: 32, sha384: 48, sha512: 64 }

/** MGF1 (RFC 8017 §B.2.1). */
export function mgf1(hash: PssHash, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length)
  const counter = new Uint8Array(4)
  let at = 0
  for (let c = 0; at < length; c++) {
    counter[0] = c >>> 24
    counter[1] = (c >>> 16) & 0xff
    counter[2] = (c >>> 8) & 0xff
    counter[3] = c & 0xff
    const block = createHash(hash).update(seed).update(counter).digest()
    out.set(block.subarray(0, Math.min(block.length, length - at)), at)
    at += block.length
  }
  return out
}

/**
 * Encodes `mHash` for a modulus of `modBits` bits, salt length = hash length
 * (the TLS 1.3 `rsa_pss_rsae_*` form). Returns k = ceil(modBits/8) bytes, ready
 * for a raw RSA private operation.
 */
export function emsaPssEncode(
  mHash: Uint8Array,
  hash: PssHash,
  modBits: number,
  salt: Uint8Array = randomBytes(hashLength[hash]),
): Uint8Array {
  const hLen = hashLength[hash]
  if (mHash.length !== hLen) {
    throw new RangeError(`Cannot encode PSS: hash must be ${hLen} bytes, got ${mHash.length}`)
  }
  const emBits = modBits - 1
  const emLen = Math.ceil(emBits / 8)
  const sLen = salt.length
  if (emLen < hLen + sLen + 2) throw new RangeError('Cannot encode PSS: modulus too short')
  const mPrime = new Uint8Array(8 + hLen + sLen)
  mPrime.set(mHash, 8)
  mPrime.set(salt, 8 + hLen)
  const h = createHash(hash).update(mPrime).digest()
  const dbLen = emLen - hLen - 1
  const db = new Uint8Array(dbLen)
  db[dbLen - sLen - 1] = 0x01
  db.set(salt, dbLen - sLen)
  const mask = mgf1(hash, h, dbLen)
  for (let i = 0; i < dbLen; i++) db[i] = (db[i] as number) ^ (mask[i] as number)
  db[0] = (db[0] as number) & (0xff >> (8 * emLen - emBits))
  const k = Math.ceil(modBits / 8)
  const em = new Uint8Array(k)
  const off = k - emLen
  em.set(db, off)
  em.set(h, off + dbLen)
  em[k - 1] = 0xbc
  return em
}
