/**
 * TLS 1.3 code points (RFC 8446 §4, §B.3; IANA TLS registries). `as const`
 * objects, not enums, because enums do not survive type stripping.
 */
import { nameLookup } from '@outpost/wire'

/** RFC 8446 §4.2.3 SignatureScheme. */
export const SignatureScheme = {
  rsa_pkcs1_sha256: 0x0401,
  rsa_pkcs1_sha384: 0x0501,
  rsa_pkcs1_sha512: 0x0601,
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  ecdsa_secp521r1_sha512: 0x0603,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
  ed448: 0x0808,
  rsa_pss_pss_sha256: 0x0809,
  rsa_pss_pss_sha384: 0x080a,
  rsa_pss_pss_sha512: 0x080b,
  rsa_pkcs1_sha1: 0x0201,
  ecdsa_sha1: 0x0203,
} as const
export type SignatureScheme = (typeof SignatureScheme)[keyof typeof SignatureScheme]

/** A readable name for logs, e.g. "ecdsa_secp256r1_sha256" or "0x1234". */
export const nameOfSignatureScheme: (v: number) => string = nameLookup(SignatureScheme, 4)

/** The hash a TLS 1.3 signature scheme uses, as a node:crypto digest name; undefined for EdDSA. */
export function hashOfSignatureScheme(s: number): 'sha256' | 'sha384' | 'sha512' | undefined {
  switch (s) {
    case SignatureScheme.ecdsa_secp256r1_sha256:
    case SignatureScheme.rsa_pss_rsae_sha256:
    case SignatureScheme.rsa_pss_pss_sha256:
    case SignatureScheme.rsa_pkcs1_sha256:
      return 'sha256'
    case SignatureScheme.ecdsa_secp384r1_sha384:
    case SignatureScheme.rsa_pss_rsae_sha384:
    case SignatureScheme.rsa_pss_pss_sha384:
    case SignatureScheme.rsa_pkcs1_sha384:
      return 'sha384'
    case SignatureScheme.ecdsa_secp521r1_sha512:
    case SignatureScheme.rsa_pss_rsae_sha512:
    case SignatureScheme.rsa_pss_pss_sha512:
    case SignatureScheme.rsa_pkcs1_sha512:
      return 'sha512'
    default:
      return undefined
  }
}

/** RFC 8446 §5.1 ContentType. */
export const ContentType = {
  ChangeCipherSpec: 20,
  Alert: 21,
  Handshake: 22,
  ApplicationData: 23,
} as const
export type ContentType = (typeof ContentType)[keyof typeof ContentType]

/** RFC 8446 §4 HandshakeType. */
export const HandshakeType = {
  ClientHello: 1,
  ServerHello: 2,
  NewSessionTicket: 4,
  EndOfEarlyData: 5,
  EncryptedExtensions: 8,
  Certificate: 11,
  CertificateRequest: 13,
  CertificateVerify: 15,
  Finished: 20,
  KeyUpdate: 24,
  MessageHash: 254,
} as const
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType]

/** RFC 8446 §4.2 ExtensionType (plus RFC 7301 ALPN and RFC 7685 padding). */
export const ExtensionType = {
  ServerName: 0x0000,
  MaxFragmentLength: 0x0001,
  StatusRequest: 0x0005,
  SupportedGroups: 0x000a,
  SignatureAlgorithms: 0x000d,
  UseSrtp: 0x000e,
  Heartbeat: 0x000f,
  ApplicationLayerProtocolNegotiation: 0x0010,
  SignedCertificateTimestamp: 0x0012,
  ClientCertificateType: 0x0013,
  ServerCertificateType: 0x0014,
  Padding: 0x0015,
  PreSharedKey: 0x0029,
  EarlyData: 0x002a,
  SupportedVersions: 0x002b,
  Cookie: 0x002c,
  PskKeyExchangeModes: 0x002d,
  CertificateAuthorities: 0x002f,
  OidFilters: 0x0030,
  PostHandshakeAuth: 0x0031,
  SignatureAlgorithmsCert: 0x0032,
  KeyShare: 0x0033,
} as const
export type ExtensionType = (typeof ExtensionType)[keyof typeof ExtensionType]

/** RFC 8446 §6 AlertLevel. */
export const AlertLevel = { Warning: 1, Fatal: 2 } as const
export type AlertLevel = (typeof AlertLevel)[keyof typeof AlertLevel]

/** RFC 8446 §6 AlertDescription. */
export const AlertDescription = {
  CloseNotify: 0,
  UnexpectedMessage: 10,
  BadRecordMac: 20,
  RecordOverflow: 22,
  HandshakeFailure: 40,
  BadCertificate: 42,
  UnsupportedCertificate: 43,
  CertificateRevoked: 44,
  CertificateExpired: 45,
  CertificateUnknown: 46,
  IllegalParameter: 47,
  UnknownCa: 48,
  AccessDenied: 49,
  DecodeError: 50,
  DecryptError: 51,
  ProtocolVersion: 70,
  InsufficientSecurity: 71,
  InternalError: 80,
  InappropriateFallback: 86,
  UserCanceled: 90,
  MissingExtension: 109,
  UnsupportedExtension: 110,
  UnrecognizedName: 112,
  BadCertificateStatusResponse: 113,
  UnknownPskIdentity: 115,
  CertificateRequired: 116,
  NoApplicationProtocol: 120,
} as const
export type AlertDescription = (typeof AlertDescription)[keyof typeof AlertDescription]

/** A readable name for logs, e.g. "IllegalParameter" or "0x99". */
export const nameOfAlert: (v: number) => string = nameLookup(AlertDescription, 2)

/** RFC 8446 §B.4 cipher suites. */
export const CipherSuite = {
  TLS_AES_128_GCM_SHA256: 0x1301,
  TLS_AES_256_GCM_SHA384: 0x1302,
  TLS_CHACHA20_POLY1305_SHA256: 0x1303,
  TLS_AES_128_CCM_SHA256: 0x1304,
  TLS_AES_128_CCM_8_SHA256: 0x1305,
} as const
export type CipherSuite = (typeof CipherSuite)[keyof typeof CipherSuite]

export const nameOfCipherSuite: (v: number) => string = nameLookup(CipherSuite, 4)

/** RFC 8446 §4.2.7 NamedGroup, plus draft-ietf-tls-ecdhe-mlkem's X25519MLKEM768. */
export const NamedGroup = {
  secp256r1: 0x0017,
  secp384r1: 0x0018,
  secp521r1: 0x0019,
  x25519: 0x001d,
  x448: 0x001e,
  ffdhe2048: 0x0100,
  ffdhe3072: 0x0101,
  X25519MLKEM768: 0x11ec,
} as const
export type NamedGroup = (typeof NamedGroup)[keyof typeof NamedGroup]

export const nameOfNamedGroup: (v: number) => string = nameLookup(NamedGroup, 4)

/** RFC 8446 §4.2.1 versions. */
export const ProtocolVersion = { TLS12: 0x0303, TLS13: 0x0304 } as const
export type ProtocolVersion = (typeof ProtocolVersion)[keyof typeof ProtocolVersion]

/** RFC 8446 §4.2.9 PskKeyExchangeMode. */
export const PskKeyExchangeMode = { psk_ke: 0, psk_dhe_ke: 1 } as const
export type PskKeyExchangeMode = (typeof PskKeyExchangeMode)[keyof typeof PskKeyExchangeMode]

/** RFC 8446 §4.6.3 KeyUpdateRequest. */
export const KeyUpdateRequest = { update_not_requested: 0, update_requested: 1 } as const
export type KeyUpdateRequest = (typeof KeyUpdateRequest)[keyof typeof KeyUpdateRequest]
