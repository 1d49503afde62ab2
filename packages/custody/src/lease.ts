/**
 * The lease is the power cord (architecture decision 5). The node renews its lease with
 * the control plane every `intervalMs`; a dead-man timer, re-armed only by a successful
 * renewal, fires `graceMs` after the last one and bricks the node with `lease_lost`.
 * The timer is independent of the renewals in flight, so a hung request cannot hold the
 * node alive: time from last successful renewal to brick is `graceMs` plus timer latency.
 * A renewal answer `{ kill: ... }` bricks at once (remote kill).
 *
 * The renewal itself is injected (`renew`); the control plane's `POST /node/v1/lease`
 * over mTLS will be wired to it.
 */
import type { BrickReason } from './state.ts'
import { realTimers, type Timers } from './timers.ts'

/** What one renewal returns. `ttlMs` is informational (status); the grace rules. */
export type LeaseAnswer =
  | { readonly kill?: undefined; readonly ttlMs?: number }
  | { readonly kill: 'revoked' | 'operator_kill' | 'tamper'; readonly detail?: string }

export interface LeaseOptions {
  /** One renewal. Must honour `signal` (aborted after `attemptTimeoutMs`). */
  readonly renew: (signal: AbortSignal) => Promise<LeaseAnswer>
  /** Called exactly once when the lease is lost or killed. */
  readonly onLost: (reason: BrickReason, extra: { seconds?: number; detail?: string }) => void
  /** Called after each successful renewal with the dead-man deadline (ms epoch). */
  readonly onRenewed?: (deadline: number) => void
  /** Called after each failed renewal (logging). */
  readonly onError?: (error: unknown) => void
  /** Dead-man grace (default 30 s). */
  readonly graceMs?: number
  /** Renewal period (default min(5 s, grace / 3)). */
  readonly intervalMs?: number
  /** Per-attempt timeout (default the interval). */
  readonly attemptTimeoutMs?: number
  readonly timers?: Timers
}

export const DEFAULT_GRACE_MS = 30_000

/**
 * @example
 * ```ts
 * const lease = new LeaseClient({
 *   renew: (signal) => controlPlane.renewLease({ signal }),
 *   onLost: (reason, extra) => void agent.brick(reason, extra),
 *   graceMs: 30_000,
 * })
 * lease.start()
 * ```
 */
export class LeaseClient {
  readonly graceMs: number
  readonly intervalMs: number
  readonly #opts: LeaseOptions
  readonly #timers: Timers
  readonly #attemptTimeoutMs: number
  #lastOk = 0
  #deadman: unknown
  #next: unknown
  #running = false
  #lost = false

  constructor(opts: LeaseOptions) {
    this.#opts = opts
    this.#timers = opts.timers ?? realTimers
    this.graceMs = opts.graceMs ?? DEFAULT_GRACE_MS
    if (!(this.graceMs > 0)) throw new RangeError('graceMs must be positive')
    this.intervalMs = opts.intervalMs ?? Math.min(5_000, Math.floor(this.graceMs / 3))
    this.#attemptTimeoutMs = opts.attemptTimeoutMs ?? this.intervalMs
  }

  /** Time of the last successful renewal (ms epoch), or of `start()`. */
  get lastRenewal(): number {
    return this.#lastOk
  }

  get deadline(): number {
    return this.#lastOk + this.graceMs
  }

  get lost(): boolean {
    return this.#lost
  }

  /** Starts renewing. The grace counts from now: the first renewal must succeed in time. */
  start(): void {
    if (this.#running || this.#lost) return
    this.#running = true
    this.#lastOk = this.#timers.now()
    this.#arm()
    void this.#attempt()
  }

  /** Stops renewing without bricking (clean shutdown). */
  stop(): void {
    this.#running = false
    this.#timers.clearTimeout(this.#deadman)
    this.#timers.clearTimeout(this.#next)
  }

  /** A kill pushed by another channel than the renewal answer. */
  kill(reason: 'revoked' | 'operator_kill' | 'tamper', detail?: string): void {
    this.#lose(reason, detail !== undefined ? { detail } : {})
  }

  #arm(): void {
    this.#timers.clearTimeout(this.#deadman)
    this.#deadman = this.#timers.setTimeout(() => {
      const seconds = Math.round((this.#timers.now() - this.#lastOk) / 100) / 10
      this.#lose('lease_lost', { seconds })
    }, this.graceMs)
  }

  #lose(reason: BrickReason, extra: { seconds?: number; detail?: string }): void {
    if (this.#lost) return
    this.#lost = true
    this.stop()
    this.#opts.onLost(reason, extra)
  }

  // A method, not the field, so the checks after an await are not narrowed away.
  #active(): boolean {
    return this.#running
  }

  async #attempt(): Promise<void> {
    if (!this.#active()) return
    const ac = new AbortController()
    const timeout = this.#timers.setTimeout(() => {
      ac.abort(new Error('lease renewal timed out'))
    }, this.#attemptTimeoutMs)
    let ok = false
    try {
      const answer = await this.#opts.renew(ac.signal)
      if (!this.#active()) return
      if (answer.kill !== undefined) {
        this.#lose(answer.kill, answer.detail !== undefined ? { detail: answer.detail } : {})
        return
      }
      if (ac.signal.aborted) throw ac.signal.reason
      ok = true
      this.#lastOk = this.#timers.now()
      this.#arm()
      this.#opts.onRenewed?.(this.deadline)
    } catch (e) {
      if (this.#active()) this.#opts.onError?.(e)
    } finally {
      this.#timers.clearTimeout(timeout)
      if (this.#active()) {
        // Retry sooner after a failure, so one lost packet costs little of the grace.
        const wait = ok ? this.intervalMs : Math.min(this.intervalMs, 1_000)
        this.#next = this.#timers.setTimeout(() => void this.#attempt(), wait)
      }
    }
  }
}
