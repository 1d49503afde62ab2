/**
 * The server's other handshake messages (RFC 8446 §4.3.1 EncryptedExtensions,
 * §4.4.2 Certificate, §4.4.3 CertificateVerify, §4.4.4 Finished, §4.6.1
 * NewSessionTicket, §4.6.3 KeyUpdate), each as an encode/decode pair. Decoders
 * exist for tests and for symmetry; the server decodes only Finished and KeyUpdate.
 */
import { Reader } from '@outpost/wire'
import { HandshakeType } from '../constants.ts'
import { decodeError, illegalParameter } from '../errors.ts'
import { decodeExtensions, encodeExtensions, type Extension } from './extensions.ts'
import { encodeHandshake } from './handshake.ts'

export function encodeEncryptedExtensions(exts: readonly Extension[]): Uint8Array {
  return encodeHandshake(HandshakeType.EncryptedExtensions, (w) => {
    encodeExtensions(w, exts)
  })
}

export function decodeEncryptedExtensions(body: Uint8Array): Extension[] {
  const r = new Reader(body, 'EncryptedExtensions')
  const exts = decodeExtensions(r, 'EncryptedExtensions')
  r.end()
  return exts
}

export interface CertificateEntry {
  readonly certData: Uint8Array
  readonly extensions: readonly Extension[]
}

export interface CertificateMessage {
  readonly certificateRequestContext: Uint8Array
  readonly certificateList: readonly CertificateEntry[]
}

export function encodeCertificate(m: CertificateMessage): Uint8Array {
  let size = 16
  for (const e of m.certificateList) size += e.certData.length + 8
  return encodeHandshake(
    HandshakeType.Certificate,
    (w) => {
      w.vec8(m.certificateRequestContext)
      w.prefixed24((l) => {
        for (const e of m.certificateList) {
          l.vec24(e.certData)
          encodeExtensions(l, e.extensions)
        }
      })
    },
    size,
  )
}

export function decodeCertificate(body: Uint8Array): CertificateMessage {
  const r = new Reader(body, 'Certificate')
  const certificateRequestContext = r.vec8('certificate_request_context')
  const list = r.sub24('certificate_list')
  r.end()
  const certificateList: CertificateEntry[] = []
  while (list.hasMore()) {
    const certData = list.vec24('cert_data')
    if (certData.length === 0) throw decodeError('Cannot decode Certificate: empty cert_data')
    certificateList.push({ certData, extensions: decodeExtensions(list, 'CertificateEntry') })
  }
  return { certificateRequestContext, certificateList }
}

export interface CertificateVerify {
  readonly algorithm: number
  readonly signature: Uint8Array
}

export function encodeCertificateVerify(m: CertificateVerify): Uint8Array {
  return encodeHandshake(HandshakeType.CertificateVerify, (w) =>
    w.u16(m.algorithm).vec16(m.signature),
  )
}

export function decodeCertificateVerify(body: Uint8Array): CertificateVerify {
  const r = new Reader(body, 'CertificateVerify')
  const algorithm = r.u16('algorithm')
  const signature = r.vec16('signature')
  r.end()
  if (signature.length === 0) throw decodeError('Cannot decode CertificateVerify: empty signature')
  return { algorithm, signature }
}

export function encodeFinished(verifyData: Uint8Array): Uint8Array {
  return encodeHandshake(HandshakeType.Finished, (w) => w.bytes(verifyData), verifyData.length + 4)
}

/** Finished.verify_data is exactly Hash.length bytes (RFC 8446 §4.4.4). */
export function decodeFinished(body: Uint8Array, hashLen: number): Uint8Array {
  if (body.length !== hashLen) {
    throw decodeError(`Cannot decode Finished: ${body.length} bytes, expected ${hashLen}`)
  }
  return body
}

export interface NewSessionTicket {
  readonly ticketLifetime: number
  readonly ticketAgeAdd: number
  readonly ticketNonce: Uint8Array
  readonly ticket: Uint8Array
  readonly extensions: readonly Extension[]
}

export function encodeNewSessionTicket(m: NewSessionTicket): Uint8Array {
  return encodeHandshake(
    HandshakeType.NewSessionTicket,
    (w) => {
      w.u32(m.ticketLifetime).u32(m.ticketAgeAdd).vec8(m.ticketNonce).vec16(m.ticket)
      encodeExtensions(w, m.extensions)
    },
    m.ticket.length + 32,
  )
}

export function decodeNewSessionTicket(body: Uint8Array): NewSessionTicket {
  const r = new Reader(body, 'NewSessionTicket')
  const ticketLifetime = r.u32('ticket_lifetime')
  const ticketAgeAdd = r.u32('ticket_age_add')
  const ticketNonce = r.vec8('ticket_nonce')
  const ticket = r.vec16('ticket')
  if (ticket.length === 0) throw decodeError('Cannot decode NewSessionTicket: empty ticket')
  const extensions = decodeExtensions(r, 'NewSessionTicket')
  r.end()
  return { ticketLifetime, ticketAgeAdd, ticketNonce, ticket, extensions }
}

export function encodeKeyUpdate(requestUpdate: 0 | 1): Uint8Array {
  return encodeHandshake(HandshakeType.KeyUpdate, (w) => w.u8(requestUpdate), 8)
}

/** KeyUpdate.request_update is 0 or 1; anything else is illegal_parameter (RFC 8446 §4.6.3). */
export function decodeKeyUpdate(body: Uint8Array): 0 | 1 {
  const r = new Reader(body, 'KeyUpdate')
  const v = r.u8('request_update')
  r.end()
  if (v !== 0 && v !== 1) throw illegalParameter(`Cannot decode KeyUpdate: request_update is ${v}`)
  return v
}
