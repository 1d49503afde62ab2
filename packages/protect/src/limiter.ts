/**
 * GCRA rate limiting with nginx `limit_req` semantics, in a byte-bounded LRU store.
 *
 * GCRA (the generic cell rate algorithm, ITU-T I.371) keeps one number per key: how far
 * the key is ahead of its allowance. This is nginx's `excess` form, in milli-requests
 * with millisecond time (ngx_http_limit_req_module.c, ngx_http_limit_req_lookup):
 *
 *   excess = max(0, excess_prev - rate·Δms/1000 + 1000)
 *   excess > burst·1000  → reject (state unchanged)
 *   otherwise            → accept, store excess and now
 *
 * A new key is accepted with excess 0, so `rate=10r/s burst=20` passes 1 + 20
 * back-to-back requests (AP1). With `delay=N` (nodelay = delay=burst), an accepted
 * request whose excess is above N·1000 waits (excess - N·1000)/rate seconds.
 *
 * Memory: a fixed number of slots derived from the byte budget (typed arrays for
 * state and the LRU list, plus a Map from key to slot whose keys are bounded to
 * `MAX_KEY` characters); the least recently used key is evicted when full (AP16).
 */
import { createHash } from 'node:crypto'

/** Bytes charged per slot: typed arrays (8+8+4+4) + Map entry and key string (~104). */
export const SLOT_BYTES = 128
/** Longer keys are replaced by a SHA-256 prefix, so a key never costs more than this. */
export const MAX_KEY = 48

export interface LimitParams {
  /** Requests per second. */
  readonly rate: number
  readonly burst: number
  /** Excess requests served without delay (nodelay ≡ burst). */
  readonly delay: number
}

export type LimitResult =
  | { readonly ok: true; readonly delayMs: number }
  | { readonly ok: false; readonly retryAfterS: number }

export class Limiter {
  readonly capacity: number
  readonly #index = new Map<string, number>()
  readonly #keys: (string | undefined)[]
  readonly #excess: Float64Array
  readonly #last: Float64Array
  readonly #prev: Int32Array
  readonly #next: Int32Array
  #head = -1
  #tail = -1
  #used = 0
  #evictions = 0

  constructor(maxBytes: number) {
    this.capacity = Math.max(1, Math.floor(maxBytes / SLOT_BYTES))
    this.#keys = new Array<string | undefined>(this.capacity)
    this.#excess = new Float64Array(this.capacity)
    this.#last = new Float64Array(this.capacity)
    this.#prev = new Int32Array(this.capacity)
    this.#next = new Int32Array(this.capacity)
  }

  get size(): number {
    return this.#index.size
  }

  get evictions(): number {
    return this.#evictions
  }

  /** Bytes charged against the budget: capacity × SLOT_BYTES, fixed at construction. */
  get bytes(): number {
    return this.capacity * SLOT_BYTES
  }

  /** Normalises a key so its stored size is bounded. */
  static key(raw: string): string {
    return raw.length <= MAX_KEY
      ? raw
      : 'h:' +
          createHash('sha256')
            .update(raw)
            .digest('base64url')
            .slice(0, MAX_KEY - 2)
  }

  /** Accounts one request for `key` at `nowMs`. */
  take(key: string, p: LimitParams, nowMs: number): LimitResult {
    const now = Math.floor(nowMs)
    const k = key.length <= MAX_KEY ? key : Limiter.key(key)
    const rate = p.rate * 1000 // milli-requests per second, as nginx's ctx->rate
    const burst = p.burst * 1000
    let slot = this.#index.get(k)
    if (slot === undefined) {
      slot = this.#alloc(k)
      this.#excess[slot] = 0
      this.#last[slot] = now
      return { ok: true, delayMs: 0 }
    }
    this.#touch(slot)
    let ms = now - (this.#last[slot] ?? now)
    if (ms < -60000) ms = 1
    else if (ms < 0) ms = 0
    let excess = (this.#excess[slot] ?? 0) - Math.trunc((rate * ms) / 1000) + 1000
    if (excess < 0) excess = 0
    if (excess > burst) {
      // Time until excess - rate·t/1000 + 1000 ≤ burst.
      const waitMs = ((excess - burst) * 1000) / rate
      return { ok: false, retryAfterS: Math.max(1, Math.ceil(waitMs / 1000)) }
    }
    this.#excess[slot] = excess
    if (ms !== 0) this.#last[slot] = now
    const over = excess - p.delay * 1000
    return { ok: true, delayMs: over > 0 ? Math.ceil((over * 1000) / rate) : 0 }
  }

  #alloc(k: string): number {
    let slot: number
    if (this.#used < this.capacity) slot = this.#used++
    else {
      slot = this.#tail
      this.#unlink(slot)
      const old = this.#keys[slot]
      if (old !== undefined) this.#index.delete(old)
      this.#evictions++
    }
    this.#keys[slot] = k
    this.#index.set(k, slot)
    this.#pushFront(slot)
    return slot
  }

  #touch(slot: number): void {
    if (this.#head === slot) return
    this.#unlink(slot)
    this.#pushFront(slot)
  }

  #unlink(slot: number): void {
    const p = this.#prev[slot] ?? -1
    const n = this.#next[slot] ?? -1
    if (p >= 0) this.#next[p] = n
    else this.#head = n
    if (n >= 0) this.#prev[n] = p
    else this.#tail = p
  }

  #pushFront(slot: number): void {
    this.#prev[slot] = -1
    this.#next[slot] = this.#head
    if (this.#head >= 0) this.#prev[this.#head] = slot
    this.#head = slot
    if (this.#tail < 0) this.#tail = slot
  }
}
