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
 * States are carved out of shared 8 KiB slabs (as Buffer's pool does): one
 * off-heap array each would be an ArrayBuffer (a malloc, and work for V8's
 * sweeper) per handshake. A slab is freed once no transcript on it is left.
 */
const SLAB_BYTES = 8192
let slab = new Uint8Array(0)
let slabUsed = 0

function stateArray(bytes: number): Uint8Array {
  if (slabUsed + bytes > slab.length) {
    slab = new Uint8Array(Math.max(SLAB_BYTES, bytes))
    slabUsed = 0
  }
  const s = slab.subarray(slabUsed, slabUsed + bytes)
  slabUsed += bytes
  return s
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
      this.#state = stateArray(this.#native.hashStateBytes)
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
    if (n === undefined) {
      ;(this.#hash as Hash).update(message)
      return
    }
    if (message.length > SMALL_BYTES) {
      n.hashUpdate(this.#hashLen, this.#state as Uint8Array, message)
      return
    }
    const small = scratch.subarray(0, message.length)
    small.set(message)
    n.hashUpdate(this.#hashLen, this.#state as Uint8Array, small)
  }

  /** Transcript-Hash of everything added so far. */
  current(): Uint8Array {
    const n = this.#native
    if (n === undefined) return (this.#hash as Hash).copy().digest()
    n.hashDigest(this.#hashLen, this.#state as Uint8Array, scratch, 0)
    return scratch.slice(0, this.#hashLen)
  }

  /** Transcript-Hash of everything so far plus `extra`, without adding it. */
  currentWith(extra: Uint8Array): Uint8Array {
    if (this.#native === undefined) return (this.#hash as Hash).copy().update(extra).digest()
    const t = this.#fork()
    t.update(extra)
    return t.current()
  }

  /** A transcript with the same state (native backend). */
  #fork(): Transcript {
    const t = new Transcript(this.hashName, 'native')
    ;(t.#state as Uint8Array).set(this.#state as Uint8Array)
    return t
  }
}

/** Hash(data) with SHA-256 or SHA-384. */
export function hashOf(
  hashName: HashName,
  data: Uint8Array,
  backend: CryptoBackend = defaultBackend,
): Uint8Array {
  if (nativeHash(backend) === undefined) return createHash(hashName).update(data).digest()
  const t = new Transcript(hashName, backend)
  t.update(data)
  return t.current()
}
