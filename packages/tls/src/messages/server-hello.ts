/**
 * ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4). An HRR is a
 * ServerHello whose random is the SHA-256 of "HelloRetryRequest".
 */
import { Reader, Writer } from '@outpost/wire'
import { HandshakeType } from '../constants.ts'
import { decodeExtensions, encodeExtensions, type Extension } from './extensions.ts'
import { encodeHandshake } from './handshake.ts'

/** RFC 8446 §4.1.3: the special random that marks a HelloRetryRequest. */
export const HELLO_RETRY_REQUEST_RANDOM = new Uint8Array([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
])

export interface ServerHello {
  readonly random: Uint8Array
  readonly legacySessionIdEcho: Uint8Array
  readonly cipherSuite: number
  readonly extensions: readonly Extension[]
}

export function encodeServerHello(sh: ServerHello): Uint8Array {
  // Sized up front (the writer would grow several times around a 1 KiB key share).
  let size = 4 + 2 + 32 + 1 + sh.legacySessionIdEcho.length + 2 + 1 + 2
  for (const e of sh.extensions) size += 4 + e.data.length
  return encodeHandshake(
    HandshakeType.ServerHello,
    (w: Writer) => {
      w.u16(0x0303).bytes(sh.random).vec8(sh.legacySessionIdEcho).u16(sh.cipherSuite).u8(0)
      encodeExtensions(w, sh.extensions)
    },
    size,
  )
}

export function decodeServerHello(body: Uint8Array): ServerHello {
  const r = new Reader(body, 'ServerHello')
  r.u16('legacy_version')
  const random = r.bytes(32, 'random')
  const legacySessionIdEcho = r.vec8('legacy_session_id_echo')
  const cipherSuite = r.u16('cipher_suite')
  r.u8('legacy_compression_method')
  const extensions = decodeExtensions(r, 'ServerHello')
  r.end()
  return { random, legacySessionIdEcho, cipherSuite, extensions }
}
