/**
 * The keyless operations (docs keyless-wire-format §1.4) over an abstract key:
 * which opcode needs which key type and payload, the context-bound signing rule,
 * and the error code every refusal maps to. The key itself is a {@link KeyBackend}:
 * in this process ({@link softwareBackend}) or in an HSM (pkcs11-keystore.ts).
 */
import {
  constants,
  createHash,
  privateDecrypt,
  privateEncrypt,
  sign as nodeSign,
} from 'node:crypto'
import { p256, p384 } from '@noble/curves/nist.js'
import { SignatureScheme } from '@outpost/tls/constants'
import { ErrorCode, Op, type Operation } from './_keyless.ts'
import { OperationError } from './errors.ts'
import { KeyType, type SoftwareKey } from './keys.ts'
import { emsaPssEncode, type PssHash } from './pss.ts'

export type DigestName = 'md5-sha1' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512'

export const digestLength: Record<DigestName, number> = {
  'md5-sha1': 36,
  sha1: 20,
  sha224: 28,
  sha256: 32,
  sha384: 48,
  sha512: 64,
}

/** DigestInfo prefixes (RFC 8017 §9.2, note 1); MD5SHA1 (TLS 1.0/1.1) has none. */
export const digestInfoPrefix: Record<DigestName, Uint8Array> = {
  'md5-sha1': new Uint8Array(0),
  sha1: Buffer.from('3021300906052b0e03021a05000414', 'hex'),
  sha224: Buffer.from('302d300d06096086480165030402040500041c', 'hex'),
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
}

/** What a key must be able to do. Implementations throw OperationError(CryptoFailed) on failure. */
export interface KeyBackend {
  readonly type: KeyType
  /** RSA modulus length in bits (0 for other keys). */
  readonly modulusBits: number
  /** Raw RSA private operation (m^d mod n) on exactly k bytes. */
  rsaRaw(input: Uint8Array): Uint8Array | Promise<Uint8Array>
  /** PKCS#1 v1.5 type 1 padding of `data` (DigestInfo‖hash, or MD5‖SHA-1), then RSA. */
  rsaPkcs1(data: Uint8Array): Uint8Array | Promise<Uint8Array>
  /** RSASSA-PSS over a precomputed hash, salt length = hash length. */
  rsaPss(hash: Uint8Array, alg: PssHash): Uint8Array | Promise<Uint8Array>
  /** ECDSA over a precomputed digest; DER output. */
  ecdsaDigest(digest: Uint8Array): Uint8Array | Promise<Uint8Array>
  /** Ed25519 over the whole message. */
  ed25519(message: Uint8Array): Uint8Array | Promise<Uint8Array>
  /** Signs TLS 1.3 CertificateVerify content (already checked) with `scheme`. */
  signTls13(scheme: number, content: Uint8Array): Uint8Array | Promise<Uint8Array>
}

const rsaSignOps = new Map<number, DigestName>([
  [Op.RsaSignMd5Sha1, 'md5-sha1'],
  [Op.RsaSignSha1, 'sha1'],
  [Op.RsaSignSha224, 'sha224'],
  [Op.RsaSignSha256, 'sha256'],
  [Op.RsaSignSha384, 'sha384'],
  [Op.RsaSignSha512, 'sha512'],
])
const ecdsaSignOps = new Map<number, DigestName>([
  [Op.EcdsaSignMd5Sha1, 'md5-sha1'],
  [Op.EcdsaSignSha1, 'sha1'],
  [Op.EcdsaSignSha224, 'sha224'],
  [Op.EcdsaSignSha256, 'sha256'],
  [Op.EcdsaSignSha384, 'sha384'],
  [Op.EcdsaSignSha512, 'sha512'],
])
const pssSignOps = new Map<number, PssHash>([
  [Op.RsaPssSignSha256, 'sha256'],
  [Op.RsaPssSignSha384, 'sha384'],
  [Op.RsaPssSignSha512, 'sha512'],
])

/** True for the opcodes this key server performs with a key. */
export function isKeyOperation(opcode: number): boolean {
  return (
    opcode === Op.RsaDecrypt ||
    opcode === Op.RsaDecryptRaw ||
    opcode === Op.Ed25519Sign ||
    opcode === Op.SignTls13 ||
    rsaSignOps.has(opcode) ||
    ecdsaSignOps.has(opcode) ||
    pssSignOps.has(opcode)
  )
}

/** TLS 1.3 signature schemes (RFC 8446 §4.2.3) and the key each needs. */
const tls13Schemes = new Map<number, { key: KeyType | 'rsa-pss'; hash: PssHash | undefined }>([
  [SignatureScheme.ecdsa_secp256r1_sha256, { key: KeyType.EcdsaP256, hash: 'sha256' }],
  [SignatureScheme.ecdsa_secp384r1_sha384, { key: KeyType.EcdsaP384, hash: 'sha384' }],
  [SignatureScheme.rsa_pss_rsae_sha256, { key: KeyType.Rsa, hash: 'sha256' }],
  [SignatureScheme.rsa_pss_rsae_sha384, { key: KeyType.Rsa, hash: 'sha384' }],
  [SignatureScheme.rsa_pss_rsae_sha512, { key: KeyType.Rsa, hash: 'sha512' }],
  // rsa_pss_pss_* need an RSASSA-PSS (id-RSASSA-PSS) key, which no keystore loads yet.
  [SignatureScheme.rsa_pss_pss_sha256, { key: 'rsa-pss', hash: 'sha256' }],
  [SignatureScheme.rsa_pss_pss_sha384, { key: 'rsa-pss', hash: 'sha384' }],
  [SignatureScheme.rsa_pss_pss_sha512, { key: 'rsa-pss', hash: 'sha512' }],
  [SignatureScheme.ed25519, { key: KeyType.Ed25519, hash: undefined }],
])

/** The TLS 1.3 schemes a key of `type` can produce, in preference order. */
export function tls13SchemesFor(type: KeyType): number[] {
  return [...tls13Schemes].filter(([, v]) => v.key === type).map(([k]) => k)
}

/** 64 spaces, "TLS 1.3, server CertificateVerify", 0x00 (RFC 8446 §4.4.3). */
export const SERVER_CERTIFICATE_VERIFY_PREFIX: Uint8Array = (() => {
  const label = new TextEncoder().encode('TLS 1.3, server CertificateVerify')
  const out = new Uint8Array(64 + label.length + 1)
  out.fill(0x20, 0, 64)
  out.set(label, 64)
  return out
})()

const prefixBytes = Buffer.from(SERVER_CERTIFICATE_VERIFY_PREFIX)

// Transcript hash length of each scheme hash (RFC 8446 §4.4.3).
const hashLength: Record<PssHash, number> = { sha256: 32, sha384: 48, sha512: 64 }

/**
 * The context-bound signing rule: the payload must be exactly the server
 * CertificateVerify prefix plus a transcript hash of the scheme's hash length
 * (for ed25519: 32, 48 or 64). Anything else is BadContext.
 */
export function checkTls13Content(content: Uint8Array, hash: PssHash | undefined): void {
  const pre = SERVER_CERTIFICATE_VERIFY_PREFIX
  const hashLen = content.length - pre.length
  const fits =
    hash === undefined
      ? hashLen === 32 || hashLen === 48 || hashLen === 64
      : hashLen === hashLength[hash]
  if (!fits) {
    const allowed = hash === undefined ? '32|48|64' : String(hashLength[hash])
    throw new OperationError(
      ErrorCode.BadContext,
      `Cannot sign TLS 1.3 content: expected ${pre.length}+${allowed} bytes, got ${content.length}`,
    )
  }
  // Buffer#compare over the prefix's range: native, and no view of `content`.
  if (prefixBytes.compare(content, 0, pre.length) !== 0) {
    throw new OperationError(
      ErrorCode.BadContext,
      'Cannot sign TLS 1.3 content: it is not a server CertificateVerify input',
    )
  }
}

function cryptoFailed(message: string): never {
  throw new OperationError(ErrorCode.CryptoFailed, message)
}

function needType(backend: KeyBackend, ok: boolean, opcode: number): void {
  if (!ok) {
    cryptoFailed(
      `Cannot perform operation 0x${opcode.toString(16).padStart(2, '0')}: key type is ${backend.type}`,
    )
  }
}

/**
 * Performs one key operation. Throws OperationError: BadOpcode for opcodes
 * that are not key operations, Format for a missing payload or signature
 * scheme, CryptoFailed for a key type mismatch, a wrong digest length or a
 * failing primitive, BadContext for SignTls13 content that breaks the rule.
 */
export async function performOperation(backend: KeyBackend, op: Operation): Promise<Uint8Array> {
  return operate(backend, op)
}

/**
 * {@link performOperation} without the promise when the backend answers at
 * once (software keys): throws OperationError synchronously, returns the bytes
 * or, for a backend that works elsewhere (PKCS#11), a promise of them.
 */
export function operate(backend: KeyBackend, op: Operation): Uint8Array | Promise<Uint8Array> {
  const { opcode } = op
  // The context-bound opcode first: it is what edges send for every handshake.
  if (opcode === Op.SignTls13) return signTls13(backend, op)
  if (!isKeyOperation(opcode)) {
    throw new OperationError(
      ErrorCode.BadOpcode,
      `Cannot perform operation: unknown opcode ${opcode}`,
    )
  }
  const payload = op.payload
  if (payload === undefined) {
    throw new OperationError(ErrorCode.Format, 'Cannot perform operation: no payload item')
  }
  if (opcode === Op.RsaDecrypt || opcode === Op.RsaDecryptRaw) {
    needType(backend, backend.type === KeyType.Rsa, opcode)
    const k = Math.ceil(backend.modulusBits / 8)
    if (payload.length !== k)
      cryptoFailed(`Cannot decrypt: ciphertext must be ${k} bytes, got ${payload.length}`)
    return backend.rsaRaw(payload)
  }
  const rsaDigest = rsaSignOps.get(opcode)
  if (rsaDigest !== undefined) {
    needType(backend, backend.type === KeyType.Rsa, opcode)
    checkDigest(payload, digestLength[rsaDigest])
    const prefix = digestInfoPrefix[rsaDigest]
    const data = new Uint8Array(prefix.length + payload.length)
    data.set(prefix)
    data.set(payload, prefix.length)
    return backend.rsaPkcs1(data)
  }
  const pssHash = pssSignOps.get(opcode)
  if (pssHash !== undefined) {
    needType(backend, backend.type === KeyType.Rsa, opcode)
    checkDigest(payload, digestLength[pssHash])
    return backend.rsaPss(payload, pssHash)
  }
  const ecDigest = ecdsaSignOps.get(opcode)
  if (ecDigest !== undefined) {
    needType(
      backend,
      backend.type === KeyType.EcdsaP256 || backend.type === KeyType.EcdsaP384,
      opcode,
    )
    checkDigest(payload, digestLength[ecDigest])
    return backend.ecdsaDigest(payload)
  }
  // Op.Ed25519Sign, the one key operation left.
  needType(backend, backend.type === KeyType.Ed25519, opcode)
  return backend.ed25519(payload)
}

/** Op.SignTls13: payload, scheme, scheme against the key, then the content rule (§8.2). */
function signTls13(backend: KeyBackend, op: Operation): Uint8Array | Promise<Uint8Array> {
  const payload = op.payload
  if (payload === undefined) {
    throw new OperationError(ErrorCode.Format, 'Cannot perform operation: no payload item')
  }
  const scheme = op.signatureScheme
  if (scheme === undefined) {
    throw new OperationError(
      ErrorCode.Format,
      'Cannot sign TLS 1.3 content: no signature scheme item',
    )
  }
  const want = tls13Schemes.get(scheme)
  if (want === undefined) {
    cryptoFailed(
      `Cannot sign TLS 1.3 content: scheme 0x${scheme.toString(16)} is not a TLS 1.3 scheme`,
    )
  }
  if (want.key !== backend.type) {
    cryptoFailed(
      `Cannot sign TLS 1.3 content: scheme 0x${scheme.toString(16)} does not fit a ${backend.type} key`,
    )
  }
  checkTls13Content(payload, want.hash)
  return backend.signTls13(scheme, payload)
}

function checkDigest(payload: Uint8Array, length: number): void {
  if (payload.length !== length) {
    cryptoFailed(`Cannot sign digest: expected ${length} bytes, got ${payload.length}`)
  }
}

/** Hash name of a TLS 1.3 scheme (undefined for ed25519); for backends that hash first. */
export function tls13HashOf(scheme: number): PssHash | undefined {
  return tls13Schemes.get(scheme)?.hash
}

/** A primitive's failure as CryptoFailed (OperationErrors pass through). */
function cryptoError(e: unknown): OperationError {
  if (e instanceof OperationError) return e
  return new OperationError(
    ErrorCode.CryptoFailed,
    `Cannot perform operation: ${(e as Error).message}`,
    { cause: e },
  )
}

function guarded(fn: () => Uint8Array): Uint8Array {
  try {
    return fn()
  } catch (e) {
    throw cryptoError(e)
  }
}

/**
 * A backend over a key in this process. ECDSA signs on the native addon's key when it is
 * loaded (key.signer, ADR 0013), else with node:crypto (content) and @noble/curves (bare
 * digests, which node:crypto cannot sign); RSA and Ed25519 with node:crypto.
 */
const precomputed = new Set<typeof p256>()

export function softwareBackend(key: SoftwareKey): KeyBackend {
  const { privateKey, signer } = key
  const curve = key.type === KeyType.EcdsaP384 ? p384 : p256
  if (
    signer === undefined &&
    (key.type === KeyType.EcdsaP256 || key.type === KeyType.EcdsaP384) &&
    !precomputed.has(curve)
  ) {
    // Larger base-point tables (once per curve, a few MB) make the pure-JS
    // digest signing path about a quarter faster.
    curve.Point.BASE.precompute(8, false)
    precomputed.add(curve)
  }
  const rsaRaw = (input: Uint8Array): Uint8Array =>
    guarded(() => privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, input))
  return {
    type: key.type,
    modulusBits: key.modulusBits,
    rsaRaw,
    rsaPkcs1: (data) =>
      guarded(() =>
        privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, data),
      ),
    rsaPss: (hash, alg) =>
      guarded(() => {
        const em = emsaPssEncode(hash, alg, key.modulusBits)
        return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, em)
      }),
    ecdsaDigest: (digest) =>
      guarded(() => {
        if (signer !== undefined) return signer.signDigest(digest)
        const scalar = key.scalar
        if (scalar === undefined) cryptoFailed('Cannot sign digest: no EC scalar (key wiped)')
        return curve.sign(digest, scalar, {
          prehash: false,
          format: 'der',
          extraEntropy: true,
          lowS: false,
        })
      }),
    ed25519: (message) => guarded(() => nodeSign(null, message, privateKey)),
    signTls13: (scheme, content) => {
      // No closure and no option object on this path: it runs for every
      // handshake. ECDSA: DER is node:crypto's default encoding, and the bare
      // KeyObject skips option parsing.
      const hash = tls13HashOf(scheme)
      try {
        if (key.type === KeyType.Rsa) {
          return nodeSign(hash ?? 'sha256', content, {
            key: privateKey,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
          })
        }
        if (key.type === KeyType.Ed25519) return nodeSign(null, content, privateKey)
        if (signer !== undefined)
          return signer.signContent(hash === 'sha384' ? 'sha384' : 'sha256', content)
        return nodeSign(hash ?? 'sha256', content, privateKey)
      } catch (e) {
        throw cryptoError(e)
      }
    },
  }
}

/** SHA-2 of content, for backends that sign a digest (PKCS#11). */
export function hashContent(alg: PssHash, content: Uint8Array): Uint8Array {
  return createHash(alg).update(content).digest()
}
