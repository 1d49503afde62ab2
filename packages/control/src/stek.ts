/**
 * The STEK schedule (architecture decision 4, node-secrets.md): session
 * ticket keys generated in memory only, a new one every `rotateMs` (default
 * 1 h), kept until `maxRetentionMs` after retirement and then zeroised. Each
 * node receives the keys its region's retention allows, only inside the mTLS
 * lease response. Keys never touch the database or disk.
 */
import { randomBytes } from 'node:crypto'

export interface Stek {
  /** 16-byte key name (same shape as the edge's MemoryStekProvider). */
  readonly id: Buffer
  /** 32-byte key. */
  readonly key: Buffer
  readonly createdAt: number
  /** When it stopped being current (undefined while current). */
  retiredAt: number | undefined
}

export interface StekScheduleOptions {
  readonly rotateMs?: number
  readonly maxRetentionMs?: number
  readonly now?: () => number
}

export class StekSchedule {
  readonly rotateMs: number
  readonly maxRetentionMs: number
  readonly #now: () => number
  /** Newest first. */
  #keys: Stek[] = []

  constructor(o: StekScheduleOptions = {}) {
    this.rotateMs = o.rotateMs ?? 3_600_000
    this.maxRetentionMs = o.maxRetentionMs ?? 64_800_000
    this.#now = o.now ?? Date.now
  }

  #tick(): void {
    const now = this.#now()
    const cur = this.#keys[0]
    if (cur === undefined || now - cur.createdAt >= this.rotateMs) {
      if (cur) cur.retiredAt = now
      this.#keys.unshift({
        id: randomBytes(16),
        key: randomBytes(32),
        createdAt: now,
        retiredAt: undefined,
      })
    }
    this.#keys = this.#keys.filter((k) => {
      const keep = k.retiredAt === undefined || now - k.retiredAt < this.maxRetentionMs
      if (!keep) {
        k.key.fill(0)
        k.id.fill(0)
      }
      return keep
    })
  }

  /** The current key first, then retired keys still within `retentionMs`. */
  forRegion(retentionMs: number): readonly Stek[] {
    this.#tick()
    const now = this.#now()
    return this.#keys.filter((k) => k.retiredAt === undefined || now - k.retiredAt < retentionMs)
  }

  get size(): number {
    return this.#keys.length
  }

  /** Zeroises every key. */
  close(): void {
    for (const k of this.#keys) {
      k.key.fill(0)
      k.id.fill(0)
    }
    this.#keys = []
  }
}

const HEX = Buffer.from('0123456789abcdef')

/** Hex of `b` written straight into a Buffer (no JS string holds the secret). */
export function hexBuffer(b: Uint8Array): Buffer {
  const out = Buffer.alloc(b.length * 2)
  for (let i = 0; i < b.length; i++) {
    const v = b[i] ?? 0
    out[2 * i] = HEX[v >> 4] ?? 0
    out[2 * i + 1] = HEX[v & 15] ?? 0
  }
  return out
}
