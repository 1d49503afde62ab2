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
  readonly #onClose: (() => void)[] = []

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

  /** Runs `listener` on {@link close} (ticket sealers drop their key objects). */
  onClose(listener: () => void): void {
    if (this.#closed) listener()
    else this.#onClose.push(listener)
  }

  /** Zeroises and forgets every key; `current()` throws afterwards. */
  close(): void {
    this.#closed = true
    for (const k of this.#keys) zero(k)
    this.#keys = []
    runAll(this.#onClose.splice(0))
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

function runAll(listeners: readonly (() => void)[]): void {
  for (const l of listeners) {
    try {
      l()
    } catch {
      // One failing listener must not keep the others from dropping their copies.
    }
  }
}

/** What a node-mode edge needs of its STEK source: the TLS provider plus wiping. */
export interface EdgeStekProvider extends StekProvider {
  all(): readonly Stek[]
  close(): void
}

/** One STEK as the control plane's lease carries it (16-byte name, 32-byte key). */
export interface LeasedStek {
  readonly id: Uint8Array
  readonly key: Buffer
  readonly current: boolean
}

/**
 * STEKs from the control plane's lease (node mode): every edge of one control plane
 * holds the same keys, so a ticket issued by one edge resumes on another. The ticket's
 * 32-bit key name is the first 4 bytes of the control plane's 16-byte key id. `update`
 * takes ownership of the keys' Buffers; keys absent from a newer lease are zeroised.
 * Before the first lease `current()` throws (no tickets are issued).
 *
 * @example
 * ```ts
 * const steks = new LeaseStekProvider()
 * steks.update(lease.steks)   // after every renewal
 * steks.close()               // brick: zeroise
 * ```
 */
export class LeaseStekProvider implements EdgeStekProvider {
  #keys: (Stek & { current: boolean })[] = []
  #closed = false
  readonly #onClose: (() => void)[] = []
  readonly #onKey: ((name: string, key: Buffer) => void) | undefined
  readonly #onDrop: ((name: string) => void) | undefined

  /** `onKey`/`onDrop`: register and release each key with the custody secret registry. */
  constructor(
    hooks: { onKey?: (name: string, key: Buffer) => void; onDrop?: (name: string) => void } = {},
  ) {
    this.#onKey = hooks.onKey
    this.#onDrop = hooks.onDrop
  }

  update(steks: readonly LeasedStek[]): void {
    if (this.#closed) {
      for (const s of steks) s.key.fill(0)
      return
    }
    const next: (Stek & { current: boolean })[] = []
    for (const s of steks) {
      const id = Buffer.from(s.id.buffer, s.id.byteOffset, 4).readUInt32BE(0)
      const have = this.#keys.find((k) => k.id === id)
      if (have !== undefined) {
        s.key.fill(0) // we hold this key already
        next.push({ ...have, current: s.current })
        continue
      }
      next.push({ id, key: s.key, createdAt: Date.now(), current: s.current })
      this.#onKey?.(`stek:${id}`, s.key)
    }
    for (const k of this.#keys) {
      if (!next.some((n) => n.id === k.id)) {
        k.key.fill(0)
        this.#onDrop?.(`stek:${k.id}`)
      }
    }
    next.sort((a, b) => Number(b.current) - Number(a.current))
    this.#keys = next
  }

  current(): Stek {
    const k = this.#keys.find((x) => x.current)
    if (k === undefined) throw new Error('Cannot issue session tickets: no STEK from the lease yet')
    return k
  }

  lookup(id: number): Uint8Array | undefined {
    return this.#keys.find((k) => k.id === id)?.key
  }

  all(): readonly Stek[] {
    return [...this.#keys]
  }

  /** Runs `listener` on {@link close} (ticket sealers drop their key objects). */
  onClose(listener: () => void): void {
    if (this.#closed) listener()
    else this.#onClose.push(listener)
  }

  close(): void {
    this.#closed = true
    for (const k of this.#keys) k.key.fill(0)
    this.#keys = []
    runAll(this.#onClose.splice(0))
  }
}
