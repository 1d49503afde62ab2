/**
 * Session tickets (RFC 8446 §4.6.1, RFC 5077 §4 in spirit): the server's
 * resumption state sealed with AES-256-GCM under a session ticket encryption
 * key (STEK). The current STEK seals; retired STEKs that the provider still
 * knows open. Wire form: stek_id (4) ‖ nonce (12) ‖ ciphertext ‖ tag (16), with
 * stek_id as additional data.
 */
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomBytes,
  type KeyObject,
} from 'node:crypto'
import { Reader, Writer } from '@outpost/wire'
import { publicRandom } from './crypto/random.ts'
import {
  bindingFor,
  defaultBackend,
  type CryptoBackend,
  type NativeBinding,
} from './crypto/native.ts'

/** One session ticket encryption key: 32 bytes, never in a string. */
export interface Stek {
  readonly id: number
  readonly key: Uint8Array
}

/**
 * Where STEKs come from. The edge gets them from the control plane under lease;
 * {@link RotatingStekProvider} generates them in memory.
 */
export interface StekProvider {
  /** The key that seals new tickets. */
  current(): Stek
  /** A key that may still open tickets, or undefined once retired. */
  lookup(id: number): Uint8Array | undefined
  /**
   * Optional: `listener` runs when the provider zeroises its keys (a brick), so holders of
   * key objects derived from them (a {@link TicketSealer}) drop those at once.
   */
  onClose?(listener: () => void): void
}

/**
 * Generates a new STEK every `rotateMs` and keeps the last `keep` (current
 * included) for opening; dropped keys are zeroised.
 *
 * @example
 * ```ts
 * const steks = new RotatingStekProvider({ rotateMs: 3_600_000, keep: 18 })
 * ```
 */
export class RotatingStekProvider implements StekProvider {
  readonly #rotateMs: number
  readonly #keep: number
  readonly #now: () => number
  #keys: { id: number; key: Uint8Array; bornMs: number }[] = []
  #nextId: number

  constructor(opts: { rotateMs?: number; keep?: number; now?: () => number } = {}) {
    this.#rotateMs = opts.rotateMs ?? 3_600_000
    this.#keep = Math.max(1, opts.keep ?? 18)
    this.#now = opts.now ?? Date.now
    this.#nextId = randomBytes(4).readUInt32BE(0)
    this.#rotate()
  }

  #rotate(): void {
    this.#keys.unshift({
      id: this.#nextId,
      key: new Uint8Array(randomBytes(32)),
      bornMs: this.#now(),
    })
    this.#nextId = (this.#nextId + 1) >>> 0
    while (this.#keys.length > this.#keep) this.#keys.pop()?.key.fill(0)
  }

  current(): Stek {
    const first = this.#keys[0]
    if (first === undefined || this.#now() - first.bornMs >= this.#rotateMs) this.#rotate()
    const head = this.#keys[0] as { id: number; key: Uint8Array }
    return { id: head.id, key: head.key }
  }

  lookup(id: number): Uint8Array | undefined {
    return this.#keys.find((k) => k.id === id)?.key
  }

  /** Zeroises every key (the lease ended). */
  destroy(): void {
    for (const k of this.#keys) k.key.fill(0)
    this.#keys = []
  }
}

/** What a ticket remembers (RFC 8446 §4.6.1): enough to resume, nothing more. */
export interface TicketState {
  readonly cipherSuite: number
  /** The resumption PSK; zeroise after use. */
  readonly psk: Uint8Array
  readonly ticketAgeAdd: number
  readonly issuedMs: number
  readonly lifetimeSeconds: number
  readonly serverName: string
  readonly alpn: Uint8Array
}

const TICKET_VERSION = 1
const ENCODER = new TextEncoder()
const DECODER = new TextDecoder()
const NONCE_BYTES = 12
const TAG_BYTES = 16

/**
 * Seals and opens tickets. With the native addon each ticket is one AES-256-GCM call
 * that keys a context for that call only (no copy of the STEK outlives it); on
 * node:crypto it caches one KeyObject per STEK it has seen (about 5× cheaper per
 * ticket than a raw key). Each KeyObject holds a native copy of its STEK, so
 * {@link wipe} drops them when the provider closes: once collected, Node clears and
 * frees the copy.
 */
export class TicketSealer {
  readonly #provider: StekProvider
  readonly #keyObjects = new Map<number, { raw: Uint8Array; key: KeyObject }>()
  readonly #native: NativeBinding | undefined

  constructor(provider: StekProvider, backend: CryptoBackend = defaultBackend) {
    this.#provider = provider
    this.#native = bindingFor(backend)
    // Weakly: the provider may outlive this sealer (one sealer per resolved config).
    const self = new WeakRef(this)
    provider.onClose?.(() => {
      self.deref()?.wipe()
    })
  }

  /** Drops every cached KeyObject (their native key copies are cleared when collected). */
  wipe(): void {
    this.#keyObjects.clear()
  }

  #keyObject(id: number, raw: Uint8Array): KeyObject {
    const hit = this.#keyObjects.get(id)
    if (hit?.raw === raw) return hit.key
    if (this.#keyObjects.size > 32) this.#keyObjects.clear()
    const key = createSecretKey(raw)
    this.#keyObjects.set(id, { raw, key })
    return key
  }

  seal(state: TicketState): Uint8Array {
    const stek = this.#provider.current()
    const w = new Writer(128)
    w.u8(TICKET_VERSION)
      .u16(state.cipherSuite)
      .vec8(state.psk)
      .u32(state.ticketAgeAdd)
      .u32(Math.floor(state.issuedMs / 0x100000000))
      .u32(state.issuedMs >>> 0)
      .u32(state.lifetimeSeconds)
      .vec8(ENCODER.encode(state.serverName))
      .vec8(state.alpn)
    const plain = w.view()
    const id = new Uint8Array([
      stek.id >>> 24,
      (stek.id >>> 16) & 0xff,
      (stek.id >>> 8) & 0xff,
      stek.id & 0xff,
    ])
    const nonce = publicRandom(NONCE_BYTES)
    if (this.#native !== undefined) {
      const out = new Uint8Array(4 + NONCE_BYTES + plain.length + TAG_BYTES)
      out.set(id)
      out.set(nonce, 4)
      this.#native.aeadSealOnce('aes-256-gcm', stek.key, nonce, id, plain, out, 4 + NONCE_BYTES)
      plain.fill(0)
      return out
    }
    const c = createCipheriv('aes-256-gcm', this.#keyObject(stek.id, stek.key), nonce)
    c.setAAD(id)
    const body = c.update(plain)
    c.final()
    const out = new Uint8Array(4 + NONCE_BYTES + body.length + TAG_BYTES)
    out.set(id)
    out.set(nonce, 4)
    out.set(body, 4 + NONCE_BYTES)
    out.set(c.getAuthTag(), 4 + NONCE_BYTES + body.length)
    plain.fill(0)
    body.fill(0)
    return out
  }

  /** The state in `ticket`, or undefined if it is not ours, retired, or tampered with. */
  open(ticket: Uint8Array): TicketState | undefined {
    if (ticket.length < 4 + NONCE_BYTES + TAG_BYTES + 1) return undefined
    const id =
      (((ticket[0] as number) << 24) |
        ((ticket[1] as number) << 16) |
        ((ticket[2] as number) << 8) |
        (ticket[3] as number)) >>>
      0
    const raw = this.#provider.lookup(id)
    if (raw === undefined) return undefined
    const plain =
      this.#native !== undefined ? this.#openNative(raw, ticket) : this.#openNode(id, raw, ticket)
    if (plain === undefined) return undefined
    try {
      const r = new Reader(plain, 'ticket')
      if (r.u8() !== TICKET_VERSION) return undefined
      const cipherSuite = r.u16()
      const psk = new Uint8Array(r.vec8())
      const ticketAgeAdd = r.u32()
      const issuedMs = r.u32() * 0x100000000 + r.u32()
      const lifetimeSeconds = r.u32()
      const serverName = DECODER.decode(r.vec8())
      const alpn = new Uint8Array(r.vec8())
      r.end()
      return { cipherSuite, psk, ticketAgeAdd, issuedMs, lifetimeSeconds, serverName, alpn }
    } catch {
      return undefined
    } finally {
      plain.fill(0)
    }
  }

  /** The sealed state, or undefined when the tag fails (the output is zeroed then). */
  #openNative(raw: Uint8Array, ticket: Uint8Array): Uint8Array | undefined {
    const plain = new Uint8Array(ticket.length - 4 - NONCE_BYTES - TAG_BYTES)
    const n = (this.#native as NativeBinding).aeadOpenOnce(
      'aes-256-gcm',
      raw,
      ticket.subarray(4, 4 + NONCE_BYTES),
      ticket.subarray(0, 4),
      ticket.subarray(4 + NONCE_BYTES),
      plain,
      0,
    )
    return n < 0 ? undefined : plain
  }

  #openNode(id: number, raw: Uint8Array, ticket: Uint8Array): Uint8Array | undefined {
    const d = createDecipheriv(
      'aes-256-gcm',
      this.#keyObject(id, raw),
      ticket.subarray(4, 4 + NONCE_BYTES),
    )
    d.setAAD(ticket.subarray(0, 4))
    d.setAuthTag(ticket.subarray(ticket.length - TAG_BYTES))
    const plain = d.update(ticket.subarray(4 + NONCE_BYTES, ticket.length - TAG_BYTES))
    try {
      d.final()
    } catch {
      plain.fill(0)
      return undefined
    }
    return plain
  }
}
