/**
 * One-shot AES-256-GCM on the native addon (ADR 0012) for code outside the TLS engine that
 * seals many objects under long-lived keys: the edge's cache envelope. node:crypto sets up a
 * cipher context per call (createCipheriv/createDecipheriv: key schedule, option parsing, a
 * new Buffer per update), which cost more than the AES-GCM of a 16 KiB entry; the addon
 * keys an OpenSSL context, runs it and frees it (cleansing the key schedule) in one call.
 *
 * Undefined when the addon is not loaded: callers keep their node:crypto path, which
 * produces the same bytes (AES-256-GCM, 12-byte nonce, 16-byte tag).
 */
import { native } from './native.ts'

export interface Aes256GcmOnce {
  /**
   * Seals `plaintext` into output[offset…offset + plaintext.length + 16) (ciphertext ‖
   * tag); returns the bytes written. The output must not overlap the other arguments.
   */
  seal(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    output: Uint8Array,
    offset: number,
  ): number
  /**
   * Opens `sealed` (ciphertext ‖ tag) into output[offset…]; false (and the output zeroed)
   * when the tag does not verify.
   */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    sealed: Uint8Array,
    output: Uint8Array,
    offset: number,
  ): boolean
}

const binding = native

export const aes256GcmOnce: Aes256GcmOnce | undefined =
  binding === undefined
    ? undefined
    : {
        seal: (key, nonce, aad, plaintext, output, offset) =>
          binding.aeadSealOnce('aes-256-gcm', key, nonce, aad, plaintext, output, offset),
        open: (key, nonce, aad, sealed, output, offset) =>
          binding.aeadOpenOnce('aes-256-gcm', key, nonce, aad, sealed, output, offset) >= 0,
      }
