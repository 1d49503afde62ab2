/**
 * Per-node token buckets: `rate` tokens per second up to `burst` (the key
 * server's per-node signing budget, attack-protection.md §1.7 step 5). The map
 * is bounded: a bucket that has refilled to full is forgotten first (it holds
 * no state worth keeping), and beyond `maxKeys` the least recently used bucket
 * goes, so even a flood of distinct identities cannot grow memory without bound.
 */
export class TokenBuckets {
  readonly #rate: number
  readonly #burst: number
  readonly #maxKeys: number
  /** Insertion order is least recently used first (a touched bucket is re-inserted). */
  readonly #buckets = new Map<string, { tokens: number; at: number }>()
  readonly #now: () => number
  /** The key taken last: already the most recently used, so no re-insertion. */
  #lastKey: string | undefined

  constructor(
    rate: number,
    burst: number,
    now: () => number = () => performance.now(),
    maxKeys = 10_000,
  ) {
    this.#rate = rate
    this.#burst = burst
    this.#now = now
    this.#maxKeys = maxKeys
  }

  /**
   * Takes one token for `key`; false when the bucket is empty. `now` saves
   * a clock read for a caller that has just read the buckets' clock (the
   * default one is performance.now()).
   */
  take(key: string, now: number = this.#now()): boolean {
    let b = this.#buckets.get(key)
    if (b === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#evict(now)
      b = { tokens: this.#burst, at: now }
      this.#buckets.set(key, b)
    } else {
      if (key !== this.#lastKey) {
        // Move to the most recently used end.
        this.#buckets.delete(key)
        this.#buckets.set(key, b)
      }
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate)
      b.at = now
    }
    this.#lastKey = key
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Buckets currently held. */
  get size(): number {
    return this.#buckets.size
  }

  #evict(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#rate >= this.#burst) this.#buckets.delete(k)
    }
    while (this.#buckets.size >= this.#maxKeys) {
      const oldest = this.#buckets.keys().next()
      if (oldest.done === true) break
      this.#buckets.delete(oldest.value)
    }
  }
}
