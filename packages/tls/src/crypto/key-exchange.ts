/**
 * Server-side key agreement (RFC 8446 §4.2.8, §7.4): the server always answers a
 * client's share, so each group is one function from the client's share to
 * { serverShare, sharedSecret }. Every malformed or invalid share is an
 * illegal_parameter (RFC 8446 §4.2.8.1, §7.4.2; draft-ietf-tls-ecdhe-mlkem §4).
 */
import {
  createECDH,
  createPublicKey,
  diffieHellman,
  encapsulate,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto'
import { NamedGroup } from '../constants.ts'
import { illegalParameter } from '../errors.ts'

export interface KeyExchangeResult {
  readonly serverShare: Uint8Array
  /** Zeroise after the handshake secret is derived. */
  readonly sharedSecret: Uint8Array
}

/** Groups we implement, most preferred first. */
export const SUPPORTED_GROUPS: readonly NamedGroup[] = [
  NamedGroup.X25519MLKEM768,
  NamedGroup.x25519,
  NamedGroup.secp256r1,
  NamedGroup.secp384r1,
]

const X25519_LEN = 32
const MLKEM768_EK_LEN = 1184
const MLKEM768_CT_LEN = 1088

/**
 * A raw public key as a KeyObject (Node 24 `raw-public`; cheaper than wrapping it in SPKI DER).
 *
 * Node 24's `createPublicKey` first asks `isKeyObject(options)`, which answers
 * "no" by catching the TypeError of a private-field check; V8 captures a stack
 * trace for that error, which cost more than the import itself (~70 µs of ~90 µs
 * per handshake, measured). With `Error.stackTraceLimit = 0` for the call, the
 * internal error is cheap; an import error we report still has its message and
 * becomes the `cause` of our illegal_parameter.
 */
function rawPublicKey(type: 'x25519' | 'ml-kem-768', raw: Uint8Array): KeyObject {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return createPublicKey({
      key: raw as never,
      format: 'raw-public',
      asymmetricKeyType: type,
    } as never)
  } finally {
    Error.stackTraceLimit = limit
  }
}

function x25519(clientShare: Uint8Array): KeyExchangeResult {
  if (clientShare.length !== X25519_LEN) {
    throw illegalParameter(`Cannot use x25519 key share: length is ${clientShare.length}, not 32`)
  }
  // Generated here, on the event loop: a pool refilled with async generateKeyPair
  // costs more CPU per handshake (job setup and KeyObject wrapping on the main
  // thread on top of the key generation itself), and CPU is what limits a busy edge.
  const { publicKey, privateKey } = generateKeyPairSync('x25519')
  let sharedSecret: Uint8Array
  try {
    sharedSecret = diffieHellman({ privateKey, publicKey: rawPublicKey('x25519', clientShare) })
  } catch (cause) {
    throw illegalParameter('Cannot use x25519 key share: key agreement failed', { cause })
  }
  // RFC 8446 §7.4.2: an all-zero X25519 output means a small-order point.
  let acc = 0
  for (const b of sharedSecret) acc |= b
  if (acc === 0) throw illegalParameter('Cannot use x25519 key share: shared secret is zero')
  const serverShare = new Uint8Array(
    publicKey.export({ format: 'raw-public' } as never) as Uint8Array,
  )
  return { serverShare, sharedSecret }
}

function ecdhe(
  curve: 'prime256v1' | 'secp384r1',
  len: number,
  clientShare: Uint8Array,
): KeyExchangeResult {
  // RFC 8446 §4.2.8.2: UncompressedPointRepresentation only, and the point must be on the curve.
  if (clientShare.length !== len || clientShare[0] !== 4) {
    throw illegalParameter(
      `Cannot use ${curve} key share: not an uncompressed point of ${len} bytes`,
    )
  }
  const ecdh = createECDH(curve)
  const serverShare = ecdh.generateKeys()
  let sharedSecret: Uint8Array
  try {
    sharedSecret = ecdh.computeSecret(clientShare)
  } catch (cause) {
    throw illegalParameter(`Cannot use ${curve} key share: point is invalid`, { cause })
  }
  return { serverShare, sharedSecret }
}

/**
 * X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem §3): client share = ML-KEM-768
 * encapsulation key (1184) ‖ X25519 (32); server share = ciphertext (1088) ‖
 * X25519 (32); shared secret = ML-KEM ss ‖ X25519 ss.
 */
function x25519mlkem768(clientShare: Uint8Array): KeyExchangeResult {
  if (clientShare.length !== MLKEM768_EK_LEN + X25519_LEN) {
    throw illegalParameter(
      `Cannot use X25519MLKEM768 key share: length is ${clientShare.length}, not ${MLKEM768_EK_LEN + X25519_LEN}`,
    )
  }
  let ek: KeyObject
  try {
    // createPublicKey runs FIPS 203's encapsulation key check (coefficients < q).
    ek = rawPublicKey('ml-kem-768', clientShare.subarray(0, MLKEM768_EK_LEN))
  } catch (cause) {
    throw illegalParameter('Cannot use X25519MLKEM768 key share: invalid ML-KEM key', { cause })
  }
  let kem: { sharedKey: Uint8Array; ciphertext: Uint8Array }
  try {
    kem = encapsulate(ek)
  } catch (cause) {
    throw illegalParameter('Cannot use X25519MLKEM768 key share: encapsulation failed', { cause })
  }
  if (kem.ciphertext.length !== MLKEM768_CT_LEN) {
    throw illegalParameter('Cannot use X25519MLKEM768 key share: unexpected ciphertext length')
  }
  const ecdh = x25519(clientShare.subarray(MLKEM768_EK_LEN))
  const serverShare = new Uint8Array(MLKEM768_CT_LEN + X25519_LEN)
  serverShare.set(kem.ciphertext)
  serverShare.set(ecdh.serverShare, MLKEM768_CT_LEN)
  const sharedSecret = new Uint8Array(kem.sharedKey.length + ecdh.sharedSecret.length)
  sharedSecret.set(kem.sharedKey)
  sharedSecret.set(ecdh.sharedSecret, kem.sharedKey.length)
  kem.sharedKey.fill(0)
  ecdh.sharedSecret.fill(0)
  return { serverShare, sharedSecret }
}

/** Answers `clientShare` for `group`; throws illegal_parameter on any invalid share. */
export function keyExchange(group: NamedGroup, clientShare: Uint8Array): KeyExchangeResult {
  if (group === NamedGroup.x25519) return x25519(clientShare)
  if (group === NamedGroup.secp256r1) return ecdhe('prime256v1', 65, clientShare)
  if (group === NamedGroup.secp384r1) return ecdhe('secp384r1', 97, clientShare)
  if (group === NamedGroup.X25519MLKEM768) return x25519mlkem768(clientShare)
  throw illegalParameter(`Cannot use key share: group 0x${group.toString(16)} is not supported`)
}
