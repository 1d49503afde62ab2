/**
 * ClientHello (RFC 8446 §4.1.2): the raw structure with its extensions in order,
 * and `parseClientHelloExtensions()`, which decodes the extensions the server
 * acts on. The raw order matters: a second ClientHello must repeat the first's
 * (RFC 8446 §4.1.2), and pre_shared_key must be last (§4.2.11).
 */
import { Reader, Writer } from '@outpost/wire'
import { ExtensionType, HandshakeType } from '../constants.ts'
import { decodeError, illegalParameter } from '../errors.ts'
import {
  decodeAlpn,
  decodeCookie,
  decodeEmpty,
  decodeExtensions,
  decodeKeyShareClient,
  decodeNamedGroupList,
  decodeOfferedPsks,
  decodePskModes,
  decodeServerName,
  decodeSignatureSchemeList,
  decodeSupportedVersionsClient,
  encodeExtensions,
  type Extension,
  type KeyShareEntry,
  type OfferedPsks,
} from './extensions.ts'
import { encodeHandshake } from './handshake.ts'

export interface ClientHello {
  readonly legacyVersion: number
  readonly random: Uint8Array
  readonly legacySessionId: Uint8Array
  readonly cipherSuites: readonly number[]
  readonly legacyCompressionMethods: Uint8Array
  readonly extensions: readonly Extension[]
}

export function decodeClientHello(body: Uint8Array): ClientHello {
  const r = new Reader(body, 'ClientHello')
  const legacyVersion = r.u16('legacy_version')
  const random = r.bytes(32, 'random')
  const legacySessionId = r.vec8('legacy_session_id')
  if (legacySessionId.length > 32) {
    throw decodeError(
      `Cannot decode ClientHello: legacy_session_id of ${legacySessionId.length} bytes`,
    )
  }
  const suites = r.sub16('cipher_suites')
  if (suites.left === 0 || suites.left % 2 !== 0) {
    throw decodeError(`Cannot decode ClientHello: cipher_suites of ${suites.left} bytes`)
  }
  const cipherSuites: number[] = []
  while (suites.hasMore()) cipherSuites.push(suites.u16())
  const legacyCompressionMethods = r.vec8('legacy_compression_methods')
  if (legacyCompressionMethods.length === 0) {
    throw decodeError('Cannot decode ClientHello: legacy_compression_methods is empty')
  }
  // RFC 8446 §4.1.2: a pre-TLS 1.3 ClientHello may omit the extensions block.
  const extensions = r.hasMore() ? decodeExtensions(r, 'ClientHello') : []
  r.end()
  return {
    legacyVersion,
    random,
    legacySessionId,
    cipherSuites,
    legacyCompressionMethods,
    extensions,
  }
}

export function encodeClientHelloBody(w: Writer, ch: ClientHello): void {
  w.u16(ch.legacyVersion).bytes(ch.random).vec8(ch.legacySessionId)
  w.prefixed16((s) => {
    for (const c of ch.cipherSuites) s.u16(c)
  })
  w.vec8(ch.legacyCompressionMethods)
  encodeExtensions(w, ch.extensions)
}

/** The whole handshake message (header included). */
export function encodeClientHello(ch: ClientHello): Uint8Array {
  return encodeHandshake(
    HandshakeType.ClientHello,
    (w) => {
      encodeClientHelloBody(w, ch)
    },
    512,
  )
}

/** The ClientHello extensions the server acts on, decoded and checked. */
export interface ClientHelloExtensions {
  serverName?: string
  supportedGroups?: number[]
  signatureAlgorithms?: number[]
  signatureAlgorithmsCert?: number[]
  keyShares?: KeyShareEntry[]
  supportedVersions?: number[]
  pskModes?: number[]
  preSharedKey?: OfferedPsks
  cookie?: Uint8Array
  alpn?: Uint8Array[]
  earlyData: boolean
}

export function parseClientHelloExtensions(ch: ClientHello): ClientHelloExtensions {
  const out: ClientHelloExtensions = { earlyData: false }
  const last = ch.extensions.length - 1
  ch.extensions.forEach((e, i) => {
    switch (e.type) {
      case ExtensionType.ServerName:
        out.serverName = decodeServerName(e.data)
        break
      case ExtensionType.SupportedGroups:
        out.supportedGroups = decodeNamedGroupList(e.data)
        break
      case ExtensionType.SignatureAlgorithms:
        out.signatureAlgorithms = decodeSignatureSchemeList(e.data)
        break
      case ExtensionType.SignatureAlgorithmsCert:
        out.signatureAlgorithmsCert = decodeSignatureSchemeList(e.data, 'signature_algorithms_cert')
        break
      case ExtensionType.KeyShare:
        out.keyShares = decodeKeyShareClient(e.data)
        break
      case ExtensionType.SupportedVersions:
        out.supportedVersions = decodeSupportedVersionsClient(e.data)
        break
      case ExtensionType.PskKeyExchangeModes:
        out.pskModes = decodePskModes(e.data)
        break
      case ExtensionType.PreSharedKey:
        // RFC 8446 §4.2.11: pre_shared_key MUST be the last extension.
        if (i !== last)
          throw illegalParameter('Cannot accept ClientHello: pre_shared_key is not last')
        out.preSharedKey = decodeOfferedPsks(e.data)
        break
      case ExtensionType.Cookie:
        out.cookie = decodeCookie(e.data)
        break
      case ExtensionType.ApplicationLayerProtocolNegotiation:
        out.alpn = decodeAlpn(e.data)
        break
      case ExtensionType.EarlyData:
        decodeEmpty(e.data, 'early_data')
        out.earlyData = true
        break
      default:
        break // RFC 8446 §4.2: unknown extensions are ignored
    }
  })
  return out
}
