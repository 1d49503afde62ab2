/** Deterministic injected timers: `advance(ms)` fires due callbacks in time order. */
import type { Timers } from '../src/timers.ts'

export class FakeTimers implements Timers {
  #now: number
  #seq = 0
  readonly #queue = new Map<number, { at: number; fn: () => void }>()

  constructor(start = 1_700_000_000_000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq
    this.#queue.set(id, { at: this.#now + Math.max(0, ms), fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.#queue.delete(handle as number)
  }

  /** Lets pending promise callbacks run (renewals resolve between timer firings). */
  async flush(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r))
  }

  async advance(ms: number): Promise<void> {
    const end = this.#now + ms
    await this.flush()
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined
      for (const e of this.#queue) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e
      if (!next) break
      this.#queue.delete(next[0])
      this.#now = next[1].at
      next[1].fn()
      await this.flush()
    }
    this.#now = end
    await this.flush()
  }
}
