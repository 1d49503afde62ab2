/**
 * The custody state machine. A node is `sealed` (identity key only on disk, as a Clevis
 * JWE), `unlocked` (identity key in memory, no lease yet), `serving` (lease held), or
 * `bricked` (every secret zeroised; refuses to serve).
 *
 *   sealed ──unlock──► unlocked ──serve──► serving
 *     ▲                  │                   │
 *     │ readmit          └──────brick────────┤   (also sealed ──brick──► bricked)
 *     │ (operator)                           ▼
 *     └──────────────────────────────────  bricked
 *
 * `seal` (unlocked|serving → sealed) is the clean shutdown. A bricked node stays bricked
 * until an operator re-admits it; nothing on the node can unbrick it. Each transition
 * is a new immutable status object; listeners persist it (state file) and audit it.
 */
import { TransitionError } from './errors.ts'

export const CustodyState = {
  Sealed: 'sealed',
  Unlocked: 'unlocked',
  Serving: 'serving',
  Bricked: 'bricked',
} as const
export type CustodyState = (typeof CustodyState)[keyof typeof CustodyState]

export const BrickReason = {
  PowerLoss: 'power_loss',
  LeaseLost: 'lease_lost',
  Revoked: 'revoked',
  OperatorKill: 'operator_kill',
  Tamper: 'tamper',
} as const
export type BrickReason = (typeof BrickReason)[keyof typeof BrickReason]

export type CustodyStatus =
  | { readonly state: 'sealed'; readonly since: number }
  | { readonly state: 'unlocked'; readonly since: number }
  | { readonly state: 'serving'; readonly since: number; readonly leaseExpiresAt: number }
  | {
      readonly state: 'bricked'
      readonly since: number
      readonly reason: BrickReason
      /** For `lease_lost`: seconds since the last successful renewal. */
      readonly seconds?: number
      readonly detail?: string
    }

/** Each operation, the states it may start from, and the state it leads to. */
export const TRANSITIONS = {
  unlock: { from: ['sealed'], to: 'unlocked' },
  serve: { from: ['unlocked', 'serving'], to: 'serving' },
  seal: { from: ['unlocked', 'serving'], to: 'sealed' },
  brick: { from: ['sealed', 'unlocked', 'serving'], to: 'bricked' },
  readmit: { from: ['bricked'], to: 'sealed' },
} as const satisfies Record<string, { from: readonly CustodyState[]; to: CustodyState }>
export type CustodyOperation = keyof typeof TRANSITIONS

export function canApply(op: CustodyOperation, from: CustodyState): boolean {
  return (TRANSITIONS[op].from as readonly CustodyState[]).includes(from)
}

export const CUSTODY_STATES: readonly CustodyState[] = Object.values(CustodyState)
export const BRICK_REASONS: readonly BrickReason[] = Object.values(BrickReason)

/**
 * @example
 * ```ts
 * const m = new CustodyMachine()
 * m.onChange((s) => writeStateFile(s))
 * m.unlock(); m.serve(Date.now() + 30_000)
 * m.brick('lease_lost', { seconds: 31 })
 * ```
 */
export class CustodyMachine {
  #status: CustodyStatus
  readonly #now: () => number
  readonly #listeners: ((s: CustodyStatus) => void)[] = []

  constructor(opts: { now?: () => number; initial?: CustodyStatus } = {}) {
    this.#now = opts.now ?? Date.now
    this.#status = opts.initial ?? { state: 'sealed', since: this.#now() }
  }

  get status(): CustodyStatus {
    return this.#status
  }

  /** Called after every transition, in order of registration. */
  onChange(fn: (s: CustodyStatus) => void): void {
    this.#listeners.push(fn)
  }

  #go(op: CustodyOperation, next: CustodyStatus): CustodyStatus {
    const from = this.#status.state
    if (!canApply(op, from)) {
      throw new TransitionError(`Cannot ${op} a node that is ${from}`)
    }
    this.#status = next
    for (const l of this.#listeners) l(next)
    return next
  }

  unlock(): CustodyStatus {
    return this.#go('unlock', { state: 'unlocked', since: this.#now() })
  }

  /** Enter (or stay in) `serving` with a lease valid until `leaseExpiresAt` (ms epoch). */
  serve(leaseExpiresAt: number): CustodyStatus {
    const since = this.#status.state === 'serving' ? this.#status.since : this.#now()
    return this.#go('serve', { state: 'serving', since, leaseExpiresAt })
  }

  /** Clean shutdown: back to sealed without bricking. */
  seal(): CustodyStatus {
    return this.#go('seal', { state: 'sealed', since: this.#now() })
  }

  /** Bricks the node. Bricking a bricked node keeps the first reason and returns it. */
  brick(reason: BrickReason, extra: { seconds?: number; detail?: string } = {}): CustodyStatus {
    if (this.#status.state === 'bricked') return this.#status
    return this.#go('brick', { state: 'bricked', since: this.#now(), reason, ...extra })
  }

  /** Operator re-admission: the only way out of `bricked`. */
  readmit(): CustodyStatus {
    return this.#go('readmit', { state: 'sealed', since: this.#now() })
  }
}
