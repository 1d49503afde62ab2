/**
 * The keyless contract this package builds on. Until `@outpost/keyless` lands,
 * this file carries the shared names from the contract; afterwards it only
 * re-exports them, so the rest of the key server imports from one place.
 */
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
  SignTls13: 0x40,
  Response: 0xf0,
  Ping: 0xf1,
  Pong: 0xf2,
  Error: 0xff,
} as const

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
  PolicyDenied: 0x80,
  Revoked: 0x81,
  Sealed: 0x82,
  RateLimited: 0x83,
  Busy: 0x84,
  BadContext: 0x85,
  Unauthorized: 0x86,
} as const

export interface Operation {
  opcode: number
  payload?: Uint8Array
  ski?: Uint8Array
  digest?: Uint8Array
  serverName?: string
  clientIp?: Uint8Array
  serverIp?: Uint8Array
  certId?: string
  customFuncName?: string
  extra?: Uint8Array
  requestContext?: Uint8Array
  complianceRegion?: number
  signatureScheme?: number
}

export interface PeerInfo {
  remoteAddress: string
  nodeId?: string
  region?: string
  country?: string
}
