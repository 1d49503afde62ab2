/**
 * Keyless protocol v1 code points: operations, TLV tags and error codes
 * (docs/protocol/keyless.md §3–§5). `as const` objects, not enums, because enums
 * do not survive type stripping. Values ≥ 0x40 (opcodes, tags) and ≥ 0x80 (error
 * codes) are Outpost extensions; everything below is the existing v1 registry.
 */
import { nameLookup } from '@outpost/wire'

/** Operation codes carried in the Opcode item (tag 0x11). */
export const Op = {
  RsaDecrypt: 0x01,
  RsaSignMd5Sha1: 0x02,
  RsaSignSha1: 0x03,
  RsaSignSha224: 0x04,
  RsaSignSha256: 0x05,
  RsaSignSha384: 0x06,
  RsaSignSha512: 0x07,
  RsaDecryptRaw: 0x08,
  EcdsaSignMd5Sha1: 0x12,
  EcdsaSignSha1: 0x13,
  EcdsaSignSha224: 0x14,
  EcdsaSignSha256: 0x15,
  EcdsaSignSha384: 0x16,
  EcdsaSignSha512: 0x17,
  Ed25519Sign: 0x18,
  RsaPssSignSha256: 0x35,
  RsaPssSignSha384: 0x36,
  RsaPssSignSha512: 0x37,
  /** Outpost: context-bound TLS 1.3 CertificateVerify signing (with Tag.SignatureScheme). */
  SignTls13: 0x40,
  Response: 0xf0,
  Ping: 0xf1,
  Pong: 0xf2,
  Error: 0xff,
} as const
export type Op = (typeof Op)[keyof typeof Op]

/** TLV item tags. Unknown tags are skipped by every receiver. */
export const Tag = {
  CertificateDigest: 0x01,
  ServerName: 0x02,
  ClientIp: 0x03,
  Ski: 0x04,
  ServerIp: 0x05,
  CertId: 0x06,
  Opcode: 0x11,
  Payload: 0x12,
  CustomFuncName: 0x13,
  Extra: 0x14,
  JaegerSpan: 0x15,
  RequestContext: 0x16,
  ComplianceRegion: 0x17,
  Padding: 0x20,
  /** Outpost: uint16 TLS SignatureScheme (RFC 8446 §4.2.3), used with Op.SignTls13. */
  SignatureScheme: 0x40,
} as const
export type Tag = (typeof Tag)[keyof typeof Tag]

/** The 1-byte payload of an Op.Error response. */
export const ErrorCode = {
  None: 0x00,
  CryptoFailed: 0x01,
  KeyNotFound: 0x02,
  Read: 0x03,
  VersionMismatch: 0x04,
  BadOpcode: 0x05,
  UnexpectedOpcode: 0x06,
  Format: 0x07,
  Internal: 0x08,
  CertNotFound: 0x09,
  Expired: 0x0a,
  RemoteConfiguration: 0x0b,
  /** Outpost: the key's region/country/SNI policy refuses this peer or request. */
  PolicyDenied: 0x80,
  /** Outpost: the key or the requesting node's certificate is revoked. */
  Revoked: 0x81,
  /** Outpost: the key server is sealed (keys not unlocked yet). */
  Sealed: 0x82,
  /** Outpost: the peer exceeded its request rate. */
  RateLimited: 0x83,
  /** Outpost: too many requests in flight on this connection; retry later. */
  Busy: 0x84,
  /** Outpost: a SignTls13 payload is not a TLS 1.3 server CertificateVerify content. */
  BadContext: 0x85,
  /** Outpost: the peer's certificate does not identify an authorised node. */
  Unauthorized: 0x86,
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** A readable name for logs: `nameOfOp(0x15)` is "EcdsaSignSha256", unknown values print as hex. */
export const nameOfOp: (v: number) => string = nameLookup(Op, 2)

/** A readable name for logs: `nameOfTag(0x04)` is "Ski". */
export const nameOfTag: (v: number) => string = nameLookup(Tag, 2)

/** A readable name for logs: `nameOfErrorCode(0x02)` is "KeyNotFound". */
export const nameOfErrorCode: (v: number) => string = nameLookup(ErrorCode, 2)

const knownTags: ReadonlySet<number> = new Set(Object.values(Tag))

/** Whether `tag` is one this implementation understands (and so may appear at most once). */
export function isKnownTag(tag: number): boolean {
  return knownTags.has(tag)
}

/** The response opcodes; a request carrying one is answered with ErrorCode.UnexpectedOpcode. */
export function isResponseOp(op: number): boolean {
  return op === Op.Response || op === Op.Pong || op === Op.Error
}
