/**
 * Server-side key agreement (RFC 8446 §4.2.8, §7.4): the server always answers a
 * client's share, so each group is one function from the client's share to
 * { serverShare, sharedSecret }. Every malformed or invalid share is an
 * illegal_parameter (RFC 8446 §4.2.8.1, §7.4.2; draft-ietf-tls-ecdhe-mlkem §4).
 *
 * X25519 and the ML-KEM-768 encapsulation run in the native addon when it is
 * loaded (crypto/native.ts: no KeyObjects, the private key never leaves
 * OpenSSL), else on node:crypto; P-256 and P-384 always on node:crypto's ECDH,
 * which has no KeyObject overhead to save.
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
import { bindingFor, defaultBackend, type CryptoBackend, type NativeBinding } from './native.ts'

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
const MLKEM768_SS_LEN = 32

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

/**
 * Where the addon writes shares and secrets of up to 64 bytes: an array that small
 * created per call would live on V8's heap, and Node-API would first move it off the
 * heap (a new ArrayBuffer each). Larger than 64 bytes, so off the heap itself; the
 * secrets are copied out and this array zeroed within the same call.
 */
const OUT = new Uint8Array(128)

/** True when every byte is zero (without an early exit). */
function isZero(bytes: Uint8Array): boolean {
  let acc = 0
  for (const b of bytes) acc |= b
  return acc === 0
}

function x25519(clientShare: Uint8Array, native: NativeBinding | undefined): KeyExchangeResult {
  if (clientShare.length !== X25519_LEN) {
    throw illegalParameter(`Cannot use x25519 key share: length is ${clientShare.length}, not 32`)
  }
  if (native !== undefined) {
    // Written into the off-heap scratch array, then copied out (see OUT).
    const ok = native.x25519(clientShare, OUT, 0, OUT, X25519_LEN)
    const serverShare = OUT.slice(0, X25519_LEN)
    const sharedSecret = OUT.slice(X25519_LEN, 2 * X25519_LEN)
    OUT.fill(0, 0, 2 * X25519_LEN)
    // false: OpenSSL refused an all-zero result (RFC 8446 §7.4.2, a small-order point);
    // checked here as well, as on the node:crypto path.
    if (!ok || isZero(sharedSecret)) {
      throw illegalParameter('Cannot use x25519 key share: shared secret is zero')
    }
    return { serverShare, sharedSecret }
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
  if (isZero(sharedSecret))
    throw illegalParameter('Cannot use x25519 key share: shared secret is zero')
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
function x25519mlkem768(
  clientShare: Uint8Array,
  native: NativeBinding | undefined,
): KeyExchangeResult {
  if (clientShare.length !== MLKEM768_EK_LEN + X25519_LEN) {
    throw illegalParameter(
      `Cannot use X25519MLKEM768 key share: length is ${clientShare.length}, not ${MLKEM768_EK_LEN + X25519_LEN}`,
    )
  }
  const serverShare = new Uint8Array(MLKEM768_CT_LEN + X25519_LEN)
  const ek = clientShare.subarray(0, MLKEM768_EK_LEN)
  if (native !== undefined) {
    // Both halves written in place: ciphertext ‖ X25519 share, and ML-KEM ss ‖ X25519 ss
    // into the off-heap scratch array, then copied out (see OUT).
    if (!native.mlkem768Encapsulate(ek, serverShare, 0, OUT, 0)) {
      OUT.fill(0, 0, MLKEM768_SS_LEN)
      throw illegalParameter('Cannot use X25519MLKEM768 key share: invalid ML-KEM key')
    }
    const x = clientShare.subarray(MLKEM768_EK_LEN)
    const ok = native.x25519(x, serverShare, MLKEM768_CT_LEN, OUT, MLKEM768_SS_LEN)
    const sharedSecret = OUT.slice(0, MLKEM768_SS_LEN + X25519_LEN)
    OUT.fill(0, 0, MLKEM768_SS_LEN + X25519_LEN)
    if (!ok || isZero(sharedSecret.subarray(MLKEM768_SS_LEN))) {
      sharedSecret.fill(0)
      throw illegalParameter('Cannot use x25519 key share: shared secret is zero')
    }
    return { serverShare, sharedSecret }
  }
  const sharedSecret = new Uint8Array(MLKEM768_SS_LEN + X25519_LEN)
  let key: KeyObject
  try {
    // createPublicKey runs FIPS 203's encapsulation key check (coefficients < q).
    key = rawPublicKey('ml-kem-768', ek)
  } catch (cause) {
    throw illegalParameter('Cannot use X25519MLKEM768 key share: invalid ML-KEM key', { cause })
  }
  let kem: { sharedKey: Uint8Array; ciphertext: Uint8Array }
  try {
    kem = encapsulate(key)
  } catch (cause) {
    throw illegalParameter('Cannot use X25519MLKEM768 key share: encapsulation failed', { cause })
  }
  if (kem.ciphertext.length !== MLKEM768_CT_LEN || kem.sharedKey.length !== MLKEM768_SS_LEN) {
    kem.sharedKey.fill(0)
    throw illegalParameter('Cannot use X25519MLKEM768 key share: unexpected encapsulation lengths')
  }
  const ecdh = x25519(clientShare.subarray(MLKEM768_EK_LEN), undefined)
  serverShare.set(kem.ciphertext)
  serverShare.set(ecdh.serverShare, MLKEM768_CT_LEN)
  sharedSecret.set(kem.sharedKey)
  sharedSecret.set(ecdh.sharedSecret, MLKEM768_SS_LEN)
  kem.sharedKey.fill(0)
  ecdh.sharedSecret.fill(0)
  return { serverShare, sharedSecret }
}

/**
 * Answers `clientShare` for `group`; throws illegal_parameter on any invalid share.
 * `backend` picks where X25519 and ML-KEM run (the tests run both).
 */
export function keyExchange(
  group: NamedGroup,
  clientShare: Uint8Array,
  backend: CryptoBackend = defaultBackend,
): KeyExchangeResult {
  if (group === NamedGroup.x25519) return x25519(clientShare, bindingFor(backend))
  if (group === NamedGroup.secp256r1) return ecdhe('prime256v1', 65, clientShare)
  if (group === NamedGroup.secp384r1) return ecdhe('secp384r1', 97, clientShare)
  if (group === NamedGroup.X25519MLKEM768) return x25519mlkem768(clientShare, bindingFor(backend))
  throw illegalParameter(`Cannot use key share: group 0x${group.toString(16)} is not supported`)
}
