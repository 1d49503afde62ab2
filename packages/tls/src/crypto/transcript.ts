/**
 * The running transcript hash (RFC 8446 §4.4.1), hashed once, incrementally.
 *
 * Two backends give the same digests (crypto/native.ts): 'native' keeps the
 * SHA-256/384 state in a small array of ours that the addon advances in place, so
 * an intermediate digest is a copy of that state inside one call, with no object
 * per copy; 'node' uses a node:crypto `Hash` and `Hash.copy()` (a new Hash object
 * and a Buffer per intermediate digest: ~8 µs more per handshake).
 */
import { createHash, type Hash } from 'node:crypto'
import { HandshakeType } from '../constants.ts'
import { defaultBackend, native, type CryptoBackend, type NativeBinding } from './native.ts'
import type { HashName } from './suites.ts'
import { Slabs } from '../slab.ts'

/** The addon's hash functions, when it is loaded and exports them (not in FIPS mode). */
type NativeHash = NativeBinding &
  Required<Pick<NativeBinding, 'hashInit' | 'hashUpdate' | 'hashDigest'>>

function nativeHash(backend: CryptoBackend): NativeHash | undefined {
  if (backend !== 'native' || native?.hashDigest === undefined) return undefined
  return native as NativeHash
}

/**
 * Arrays of up to 64 bytes live on V8's heap, and Node-API moves such an array out
 * of the heap before the addon sees it (an allocation and a copy per array): small
 * messages and every digest go through this off-heap scratch array instead.
 */
const SMALL_BYTES = 64
const scratch = new Uint8Array(256)

/**
 * States are pieces of shared slabs: one off-heap array each would be an ArrayBuffer
 * (a malloc, and work for V8's sweeper) per handshake.
 */
const stateSlabs = new Slabs(8192)

/**
 * One spare state per thread for digests that must not advance a transcript
 * (currentWith, hashOf): copied or initialised, advanced and digested within one call.
 */
let spare: Uint8Array | undefined

function spareState(n: NativeHash): Uint8Array {
  return (spare ??= stateSlabs.take(n.hashStateBytes))
}

/** Advances `state` over `data` (small data through the off-heap scratch array). */
function updateState(n: NativeHash, hashLen: 32 | 48, state: Uint8Array, data: Uint8Array): void {
  if (data.length > SMALL_BYTES) {
    n.hashUpdate(hashLen, state, data)
    return
  }
  const small = scratch.subarray(0, data.length)
  small.set(data)
  n.hashUpdate(hashLen, state, small)
}

/** The digest of `state` so far, in an array of its own. */
function digestState(n: NativeHash, hashLen: 32 | 48, state: Uint8Array): Uint8Array {
  n.hashDigest(hashLen, state, scratch, 0)
  return scratch.slice(0, hashLen)
}

export class Transcript {
  readonly hashName: HashName
  readonly #hashLen: 32 | 48
  readonly #native: NativeHash | undefined
  /** The native backend's SHA-2 state (a piece of a slab: off V8's heap, no ArrayBuffer of its own). */
  readonly #state: Uint8Array | undefined
  readonly #hash: Hash | undefined

  constructor(hashName: HashName, backend: CryptoBackend = defaultBackend) {
    this.hashName = hashName
    this.#hashLen = hashName === 'sha256' ? 32 : 48
    this.#native = nativeHash(backend)
    if (this.#native !== undefined) {
      this.#state = stateSlabs.take(this.#native.hashStateBytes)
      this.#native.hashInit(this.#hashLen, this.#state)
    } else {
      this.#hash = createHash(hashName)
    }
  }

  /**
   * The transcript after a HelloRetryRequest starts with the synthetic
   * message_hash message that stands for ClientHello1 (RFC 8446 §4.4.1).
   */
  static afterRetry(
    hashName: HashName,
    clientHello1Hash: Uint8Array,
    backend: CryptoBackend = defaultBackend,
  ): Transcript {
    const t = new Transcript(hashName, backend)
    t.update(
      new Uint8Array([
        HandshakeType.MessageHash,
        0,
        0,
        clientHello1Hash.length,
        ...clientHello1Hash,
      ]),
    )
    return t
  }

  /** Adds a whole handshake message (header included). */
  update(message: Uint8Array): void {
    const n = this.#native
    if (n === undefined) (this.#hash as Hash).update(message)
    else updateState(n, this.#hashLen, this.#state as Uint8Array, message)
  }

  /** Transcript-Hash of everything added so far. */
  current(): Uint8Array {
    const n = this.#native
    if (n === undefined) return (this.#hash as Hash).copy().digest()
    return digestState(n, this.#hashLen, this.#state as Uint8Array)
  }

  /** Transcript-Hash of everything so far plus `extra`, without adding it. */
  currentWith(extra: Uint8Array): Uint8Array {
    const n = this.#native
    if (n === undefined) return (this.#hash as Hash).copy().update(extra).digest()
    const s = spareState(n)
    s.set(this.#state as Uint8Array)
    updateState(n, this.#hashLen, s, extra)
    return digestState(n, this.#hashLen, s)
  }
}

/** Hash(data) with SHA-256 or SHA-384. */
export function hashOf(
  hashName: HashName,
  data: Uint8Array,
  backend: CryptoBackend = defaultBackend,
): Uint8Array {
  const n = nativeHash(backend)
  if (n === undefined) return createHash(hashName).update(data).digest()
  const hashLen = hashName === 'sha256' ? 32 : 48
  const s = spareState(n)
  n.hashInit(hashLen, s)
  updateState(n, hashLen, s, data)
  return digestState(n, hashLen, s)
}
