/**
 * The clearance-key schedule: the HMAC keys under which every edge of this control
 * plane issues and checks clearance cookies and challenges (packages/protect keys.ts),
 * so a visitor cleared on one edge is cleared on all of them and across edge restarts.
 * Like the STEKs (stek.ts), the keys are generated in memory only, travel only inside
 * the mTLS lease response, and are zeroised when they leave the history.
 *
 * A new key every `rotateMs` (default 6 h); the `history` previous keys (default 4)
 * stay valid, so a cookie lives at least `history × rotateMs` (24 h, the longest
 * `clearance.ttlSeconds`) after its key stops being current. Epochs are the Unix second
 * of creation (strictly increasing), so a restarted control plane never reuses an epoch
 * number an edge still holds from before.
 */
import { randomBytes } from 'node:crypto'

export interface ClearanceKey {
  readonly epoch: number
  /** 32-byte HMAC key. */
  readonly key: Buffer
  readonly createdAt: number
}

export interface ClearanceKeyScheduleOptions {
  readonly rotateMs?: number
  readonly history?: number
  readonly now?: () => number
}

export class ClearanceKeySchedule {
  readonly rotateMs: number
  readonly history: number
  readonly #now: () => number
  /** Newest (current) first. */
  #keys: ClearanceKey[] = []

  constructor(o: ClearanceKeyScheduleOptions = {}) {
    this.rotateMs = o.rotateMs ?? 21_600_000
    this.history = o.history ?? 4
    this.#now = o.now ?? Date.now
  }

  /** Starts a new epoch now (scheduled, or an operator's "invalidate every cookie soon"). */
  rotate(): void {
    const now = this.#now()
    const prev = this.#keys[0]?.epoch ?? 0
    this.#keys.unshift({
      epoch: Math.max(prev + 1, Math.floor(now / 1000)) >>> 0,
      key: randomBytes(32),
      createdAt: now,
    })
    for (const k of this.#keys.splice(this.history + 1)) k.key.fill(0)
  }

  /** The current key first, then up to `history` previous keys. */
  forLease(): readonly ClearanceKey[] {
    const cur = this.#keys[0]
    if (cur === undefined || this.#now() - cur.createdAt >= this.rotateMs) this.rotate()
    return [...this.#keys]
  }

  get size(): number {
    return this.#keys.length
  }

  /** Zeroises every key. */
  close(): void {
    for (const k of this.#keys) k.key.fill(0)
    this.#keys = []
  }
}
