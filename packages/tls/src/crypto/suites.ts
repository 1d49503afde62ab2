/**
 * The TLS 1.3 cipher suites we implement (RFC 8446 §B.4): each names an AEAD and
 * the hash used by HKDF and the transcript.
 */
import { CipherSuite } from '../constants.ts'

export type HashName = 'sha256' | 'sha384'
export type AeadName = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305'

export interface SuiteParams {
  readonly id: CipherSuite
  readonly name: string
  readonly hash: HashName
  readonly hashLen: 32 | 48
  readonly aead: AeadName
  readonly keyLen: 16 | 32
}

export const SUITES: readonly SuiteParams[] = [
  {
    id: CipherSuite.TLS_AES_128_GCM_SHA256,
    name: 'TLS_AES_128_GCM_SHA256',
    hash: 'sha256',
    hashLen: 32,
    aead: 'aes-128-gcm',
    keyLen: 16,
  },
  {
    id: CipherSuite.TLS_AES_256_GCM_SHA384,
    name: 'TLS_AES_256_GCM_SHA384',
    hash: 'sha384',
    hashLen: 48,
    aead: 'aes-256-gcm',
    keyLen: 32,
  },
  {
    id: CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    name: 'TLS_CHACHA20_POLY1305_SHA256',
    hash: 'sha256',
    hashLen: 32,
    aead: 'chacha20-poly1305',
    keyLen: 32,
  },
]

export function suiteById(id: number): SuiteParams | undefined {
  return SUITES.find((s) => s.id === id)
}
