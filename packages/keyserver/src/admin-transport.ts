/**
 * Sealed admin payloads. Unseal shares and imported private keys cross the admin socket
 * encrypted to a one-time key. The reason: node reads socket data into buffers that it
 * frees, or keeps for reuse, without clearing them (the HTTP parser's shared 64 KiB
 * buffer, stream read buffers). Plaintext there would outlive `seal`, and a share left
 * there is a piece of the root key. With this transport those buffers hold only
 * ciphertext, and its key is gone once it has been opened.
 *
 *   1. client → POST /v1/transport, body: its X25519 public key (32 bytes, RFC 7748)
 *   2. server: a fresh X25519 key pair and the shared secret; key = HKDF-SHA256(secret,
 *      salt = client public ‖ server public, info = "outpost admin transport v1"),
 *      32 bytes, kept under a random id (at most 16 pending, for 60 s; the pair and
 *      the secret are dropped at once) ← {"id": hex, "publicKey": base64}
 *   3. client → the route, header `x-outpost-transport: <id>`, body: nonce (12) ‖
 *      AES-256-GCM(key, nonce, aad = "outpost admin transport v1 " + route, payload) ‖ tag
 *   4. server: takes the key (one use), opens the body into memory that WebCrypto
 *      allocates and OpenSSL clears on free, and zeroes the key.
 *
 * It protects against memory left behind, not against the peer: the socket is 0600, so
 * only the key server's user can connect in the first place.
 */
import {
  type KeyObject,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  webcrypto,
} from 'node:crypto'
import { toHex } from '@outpost/wire'
import { KeyServerError } from './errors.ts'

export const TRANSPORT_HEADER = 'x-outpost-transport'
const INFO = 'outpost admin transport v1'
const MAX_PENDING = 16
const TTL_MS = 60_000
const NONCE = 12
const TAG = 16
// SubjectPublicKeyInfo of an X25519 key, without the 32 key bytes (RFC 8410 §4).
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')

function x25519Public(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) {
    throw new KeyServerError(
      'ERR_KEYSERVER_ADMIN',
      `Cannot open transport: expected a 32-byte X25519 public key, got ${raw.length} bytes`,
    )
  }
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
}

function rawPublic(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length)
}

/**
 * The transport key both sides derive: HKDF-SHA256 of the X25519 secret between
 * `privateKey` and `peer`, salted with client public ‖ server public (off the V8 heap).
 */
function transportKey(
  privateKey: KeyObject,
  peer: Uint8Array,
  clientPublic: Uint8Array,
  serverPublic: Uint8Array,
): Uint8Array {
  let secret: Buffer
  try {
    secret = diffieHellman({ privateKey, publicKey: x25519Public(peer) })
  } catch (e) {
    if (e instanceof KeyServerError) throw e
    throw new KeyServerError(
      'ERR_KEYSERVER_ADMIN',
      'Cannot open transport: not a usable X25519 public key',
      { cause: e },
    )
  }
  try {
    const salt = Buffer.concat([clientPublic, serverPublic])
    return new Uint8Array(hkdfSync('sha256', secret, salt, INFO, 32))
  } finally {
    secret.fill(0)
  }
}

/** A fresh X25519 key pair and its raw public key. */
function keyPair(): { privateKey: KeyObject; raw: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519')
  return { privateKey, raw: rawPublic(publicKey) }
}

function aadOf(route: string): Buffer {
  return Buffer.from(`${INFO} ${route}`)
}

/** The server's pending one-time keys. */
export class TransportKeys {
  readonly #pending = new Map<string, { key: Uint8Array; expires: number }>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** Step 2: a one-time key agreed with the client's public key. */
  offer(clientPublic: Uint8Array): { id: string; publicKey: string } {
    this.#expire()
    if (this.#pending.size >= MAX_PENDING) {
      throw new KeyServerError(
        'ERR_KEYSERVER_ADMIN',
        `Cannot open transport: ${MAX_PENDING} transport keys are already pending`,
      )
    }
    const ours = keyPair()
    const key = transportKey(ours.privateKey, clientPublic, clientPublic, ours.raw)
    const id = toHex(randomBytes(16))
    this.#pending.set(id, { key, expires: this.#now() + TTL_MS })
    return { id, publicKey: ours.raw.toString('base64') }
  }

  /** Step 4: opens `body` sent to `route` under the key `id` (used once, then zeroed). */
  async open(id: string, route: string, body: Uint8Array): Promise<Buffer> {
    this.#expire()
    const entry = this.#pending.get(id)
    this.#pending.delete(id)
    if (entry === undefined) {
      throw new KeyServerError(
        'ERR_KEYSERVER_ADMIN',
        'Cannot open payload: unknown or expired transport key (each is good for one request, 60 s)',
      )
    }
    try {
      if (body.length < NONCE + TAG) {
        throw new KeyServerError('ERR_KEYSERVER_ADMIN', 'Cannot open payload: body too short')
      }
      const k = await webcrypto.subtle.importKey('raw', entry.key, 'AES-GCM', false, ['decrypt'])
      let plain: ArrayBuffer
      try {
        plain = await webcrypto.subtle.decrypt(
          { name: 'AES-GCM', iv: body.subarray(0, NONCE), additionalData: aadOf(route) },
          k,
          body.subarray(NONCE),
        )
      } catch {
        throw new KeyServerError(
          'ERR_KEYSERVER_ADMIN',
          'Cannot open payload: it does not authenticate under the transport key',
        )
      }
      return Buffer.from(plain)
    } finally {
      entry.key.fill(0)
    }
  }

  /** Zeroes and drops every pending key (seal, close). */
  clear(): void {
    for (const e of this.#pending.values()) e.key.fill(0)
    this.#pending.clear()
  }

  #expire(): void {
    const now = this.#now()
    for (const [id, e] of this.#pending) {
      if (e.expires <= now) {
        e.key.fill(0)
        this.#pending.delete(id)
      }
    }
  }
}

/**
 * Client side of steps 1 and 3: `offer` posts our public key and returns the server's
 * answer (undefined: refused, and so is this); the result is the header value and the
 * sealed body for `route`.
 */
export async function sealForTransport(
  route: string,
  payload: Uint8Array,
  offer: (clientPublic: Buffer) => Promise<{ id: string; publicKey: string } | undefined>,
): Promise<{ id: string; body: Buffer } | undefined> {
  const ours = keyPair()
  const answer = await offer(ours.raw)
  if (answer === undefined) return undefined
  const theirs = Buffer.from(answer.publicKey, 'base64')
  const key = transportKey(ours.privateKey, theirs, ours.raw, theirs)
  try {
    const nonce = randomBytes(NONCE)
    const k = await webcrypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt'])
    const sealed = await webcrypto.subtle.encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: aadOf(route) },
      k,
      payload,
    )
    return { id: answer.id, body: Buffer.concat([nonce, Buffer.from(sealed)]) }
  } finally {
    key.fill(0)
  }
}
