/**
 * Session ticket encryption keys held only in memory (docs: node-secrets.md
 * §2.4): a fresh random key every `rotateMs` (default 1 h) encrypts new
 * tickets; older keys are kept, for decryption only, until `keepMs` (default
 * 18 h) after they were retired as current, then zeroised. Nothing is ever
 * written to disk. The clock is injected so rotation is testable.
 *
 * It implements the TLS server's {@link StekProvider}. Unlike the tls package's
 * count-based RotatingStekProvider, retention here is by time: a key is gone
 * `keepMs` after it stopped being current even if no handshake happened in
 * between, which is the promise the threat model makes (P7).
 */
import { randomBytes } from 'node:crypto'
import type { StekProvider } from '@outpost/tls'

export interface Stek {
  /** 32-bit key name, carried in tickets to find the key. */
  readonly id: number
  /** 32-byte key material. */
  readonly key: Buffer
  readonly createdAt: number
}

export interface MemoryStekOptions {
  readonly rotateMs?: number
  readonly keepMs?: number
  readonly now?: () => number
}

/**
 * @example
 * ```ts
 * const steks = new MemoryStekProvider({ rotateMs: 3_600_000, keepMs: 64_800_000 })
 * const { id, key } = steks.current()
 * steks.lookup(id) // the same key while it is kept
 * steks.close()  // zeroises every key
 * ```
 */
export class MemoryStekProvider implements StekProvider {
  readonly rotateMs: number
  readonly keepMs: number
  readonly #now: () => number
  /** Newest first. */
  #keys: Stek[] = []
  #closed = false
  #nextId = randomBytes(4).readUInt32BE(0)

  constructor(options: MemoryStekOptions = {}) {
    this.rotateMs = options.rotateMs ?? 3_600_000
    this.keepMs = options.keepMs ?? 64_800_000
    this.#now = options.now ?? Date.now
  }

  /** The key for new tickets (rotating first if it is older than `rotateMs`). */
  current(): Stek {
    this.#tick()
    const k = this.#keys[0]
    if (k === undefined)
      throw new Error('Cannot issue session tickets: the STEK provider is closed')
    return k
  }

  /** The key named `id` if it is still kept (for opening a ticket). */
  lookup(id: number): Uint8Array | undefined {
    this.#tick()
    return this.#keys.find((k) => k.id === id)?.key
  }

  /** Every kept key, newest first. */
  all(): readonly Stek[] {
    this.#tick()
    return [...this.#keys]
  }

  /** Zeroises and forgets every key; `current()` throws afterwards. */
  close(): void {
    this.#closed = true
    for (const k of this.#keys) zero(k)
    this.#keys = []
  }

  #tick(): void {
    if (this.#closed) return
    const now = this.#now()
    const newest = this.#keys[0]
    if (newest === undefined || now - newest.createdAt >= this.rotateMs) {
      // Catch up on missed rotations with one fresh key: intermediate keys would never be used.
      this.#keys.unshift({ id: this.#nextId, key: randomBytes(32), createdAt: now })
      this.#nextId = (this.#nextId + 1) >>> 0
    }
    // A key retired as current at time t (when its successor was created) is kept until t + keepMs.
    const kept: Stek[] = []
    for (let i = 0; i < this.#keys.length; i++) {
      const k = this.#keys[i] as Stek
      const successor = this.#keys[i - 1]
      if (successor !== undefined && now - successor.createdAt >= this.keepMs) zero(k)
      else kept.push(k)
    }
    this.#keys = kept
  }
}

function zero(k: Stek): void {
  k.key.fill(0)
}
