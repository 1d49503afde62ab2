/**
 * The custody agent: boot unlock, lease, brick. It ties the state machine, the secret
 * registry and the lease client together; the edge data path registers its secrets and
 * close hooks on `agent.secrets` and serves only while `agent.status.state` is
 * `serving`.
 *
 * Boot: a state file left in `unlocked` or `serving` means the previous run ended
 * without a clean shutdown (power loss, crash, kill -9), so the node starts `bricked`
 * with reason `power_loss` and needs an operator re-admission (`readmitAfterPowerLoss`,
 * default true; regions may relax it). `bricked` persists across reboots.
 *
 * Unlock: in high-risk regions `admissionCheck()` (answered by the control plane: a
 * one-time operator approval) must pass before the identity JWE is even decrypted.
 */
import { clevisDecrypt } from './tang/clevis.ts'
import { UnlockError } from './errors.ts'
import { LeaseClient, type LeaseOptions } from './lease.ts'
import { SecretRegistry } from './secrets.ts'
import { CustodyMachine, type BrickReason, type CustodyStatus } from './state.ts'
import { readStateFile, writeStateFile } from './state-file.ts'
import { realTimers, type Timers } from './timers.ts'

export interface CustodyAgentOptions {
  /** The node identity key as a Clevis JWE (compact), or a loader for it. */
  readonly identityJwe: string | (() => Promise<string>)
  /** Lease renewal (the control plane's `POST /node/v1/lease`). */
  readonly renew: LeaseOptions['renew']
  /** Where to persist the state (see state-file.ts). None: memory only. */
  readonly stateFile?: string
  /** High-risk regions: the operator's one-time approval. Absent: self-unlock. */
  readonly admissionCheck?: () => Promise<boolean>
  readonly graceMs?: number
  readonly intervalMs?: number
  /** Default true: a node that lost power needs an operator re-admission. */
  readonly readmitAfterPowerLoss?: boolean
  /** Audit hook, e.g. the `BRICKED` event. */
  readonly onTransition?: (s: CustodyStatus) => void
  readonly onLeaseError?: (e: unknown) => void
  readonly timers?: Timers
  /** Defaults to {@link clevisDecrypt}. */
  readonly decrypt?: (jwe: string) => Promise<Uint8Array>
}

export const IDENTITY_SECRET = 'identity'

function initialStatus(opts: CustodyAgentOptions, now: number): CustodyStatus | undefined {
  if (opts.stateFile === undefined) return undefined
  let prev: CustodyStatus
  try {
    prev = readStateFile(opts.stateFile).status
  } catch {
    return undefined // first boot (no file); a corrupt file also starts sealed
  }
  if (prev.state === 'bricked') return prev
  if (prev.state === 'unlocked' || prev.state === 'serving') {
    if (opts.readmitAfterPowerLoss ?? true) {
      return { state: 'bricked', since: now, reason: 'power_loss', detail: `was ${prev.state}` }
    }
  }
  return undefined
}

/**
 * @example
 * ```ts
 * const agent = new CustodyAgent({
 *   identityJwe: () => readFile('/etc/outpost/identity.jwe', 'ascii'),
 *   renew: (signal) => cp.renewLease({ signal }),
 *   stateFile: '/var/lib/outpost/custody/state.json',
 * })
 * const identity = await agent.unlock()         // Buffer, registered for wipe
 * agent.secrets.onWipe('listener', () => closeListener())
 * agent.startLease()                            // serving after the first renewal
 * ```
 */
export class CustodyAgent {
  readonly secrets = new SecretRegistry()
  readonly machine: CustodyMachine
  readonly #opts: CustodyAgentOptions
  readonly #timers: Timers
  #lease: LeaseClient | undefined
  #wiping: Promise<unknown> = Promise.resolve()

  constructor(opts: CustodyAgentOptions) {
    this.#opts = opts
    this.#timers = opts.timers ?? realTimers
    const now = () => this.#timers.now()
    const initial = initialStatus(opts, now())
    this.machine = new CustodyMachine(initial ? { now, initial } : { now })
    this.machine.onChange((s) => {
      this.#persist(s)
      opts.onTransition?.(s)
    })
    if (initial?.state === 'bricked') {
      this.secrets.wipe().catch(() => undefined)
    }
    this.#persist(this.machine.status)
  }

  get status(): CustodyStatus {
    return this.machine.status
  }

  // Read through a method so checks after an await are not narrowed by the one before.
  #currentState(): CustodyStatus['state'] {
    return this.machine.status.state
  }

  #persist(s: CustodyStatus): void {
    if (this.#opts.stateFile !== undefined) writeStateFile(this.#opts.stateFile, s)
  }

  /**
   * Decrypts the identity JWE through Tang into memory: sealed → unlocked. Returns the
   * key bytes, registered as {@link IDENTITY_SECRET} (zeroised on brick).
   */
  async unlock(): Promise<Uint8Array> {
    const state = this.machine.status.state
    if (state !== 'sealed') throw new UnlockError(`Cannot unlock: node is ${state}`)
    if (this.#opts.admissionCheck) {
      let admitted: boolean
      try {
        admitted = await this.#opts.admissionCheck()
      } catch (e) {
        throw new UnlockError('Cannot unlock: admission check failed', { cause: e })
      }
      if (!admitted) throw new UnlockError('Cannot unlock: operator re-admission required')
    }
    const jwe =
      typeof this.#opts.identityJwe === 'string'
        ? this.#opts.identityJwe
        : await this.#opts.identityJwe()
    let key: Uint8Array
    try {
      key = await (this.#opts.decrypt ?? clevisDecrypt)(jwe)
    } catch (e) {
      throw new UnlockError(`Cannot unlock: ${(e as Error).message}`, { cause: e })
    }
    // The state may have changed while we waited on Tang (a kill, a tamper signal).
    const now = this.#currentState()
    if (now !== 'sealed') {
      key.fill(0)
      throw new UnlockError(`Cannot unlock: node became ${now}`)
    }
    this.secrets.register(IDENTITY_SECRET, key)
    this.machine.unlock()
    return key
  }

  /** Starts the lease: unlocked → serving after the first successful renewal. */
  startLease(): void {
    if (this.machine.status.state !== 'unlocked') {
      throw new UnlockError(`Cannot start the lease: node is ${this.machine.status.state}`)
    }
    this.#lease = new LeaseClient({
      renew: this.#opts.renew,
      ...(this.#opts.graceMs !== undefined ? { graceMs: this.#opts.graceMs } : {}),
      ...(this.#opts.intervalMs !== undefined ? { intervalMs: this.#opts.intervalMs } : {}),
      timers: this.#timers,
      onRenewed: (deadline) => {
        const s = this.machine.status.state
        if (s === 'unlocked' || s === 'serving') this.machine.serve(deadline)
      },
      onLost: (reason, extra) => void this.brick(reason, extra),
      ...(this.#opts.onLeaseError ? { onError: this.#opts.onLeaseError } : {}),
    })
    this.#lease.start()
  }

  /**
   * Bricks now: every registered secret is zeroised before this returns its promise,
   * the state becomes `bricked`, then the close hooks run (the promise waits for them).
   */
  brick(reason: BrickReason, extra: { seconds?: number; detail?: string } = {}): Promise<unknown> {
    this.#lease?.stop()
    const wiping = this.secrets.wipe()
    this.machine.brick(reason, extra)
    this.#wiping = wiping
    return wiping
  }

  /** Operator re-admission: bricked → sealed. The next unlock starts from scratch. */
  readmit(): void {
    this.machine.readmit()
    this.secrets.reset()
    this.#lease = undefined
  }

  /** Clean shutdown: stop the lease, zeroise, seal (the next boot is not a power loss). */
  async shutdown(): Promise<void> {
    this.#lease?.stop()
    const s = this.machine.status.state
    if (s === 'unlocked' || s === 'serving') {
      await this.secrets.wipe()
      this.machine.seal()
      this.secrets.reset()
    }
    await this.#wiping
  }
}
