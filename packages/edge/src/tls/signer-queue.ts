/**
 * A bounded queue in front of a key-server pool's signers: at most
 * `maxInFlight` signatures run, at most `maxQueued` wait, and a waiting one
 * that has not started within `queueDeadlineMs` is dropped. Beyond those
 * bounds a signature fails at once with a counted reason ("overload → explicit
 * busy", attack-protection.md §1.7 step 4), so a ClientHello flood cannot
 * build an unbounded backlog of key-server work.
 */
import type { SignContext, SignatureScheme, Signer } from '@outpost/tls'

export interface SignerQueueLimits {
  readonly maxInFlight: number
  readonly maxQueued: number
  readonly queueDeadlineMs: number
}

export type SignerShedReason = 'signer_queue_full' | 'signer_deadline'

/** A signature refused by the queue, not by the key server. */
export class SignerBusyError extends Error {
  readonly code = 'ERR_EDGE_SIGNER_BUSY'
  readonly shedReason: SignerShedReason
  constructor(reason: SignerShedReason, message: string) {
    super(message)
    this.name = 'SignerBusyError'
    this.shedReason = reason
  }
}

interface Waiter {
  readonly start: () => void
  readonly fail: (e: Error) => void
}

export class SignerQueue {
  readonly #limits: SignerQueueLimits
  readonly #waiting = new Set<Waiter>()
  #inFlight = 0

  constructor(limits: SignerQueueLimits) {
    this.#limits = limits
  }

  get inFlight(): number {
    return this.#inFlight
  }
  get queued(): number {
    return this.#waiting.size
  }

  /** Runs `task` when a slot is free; rejects with SignerBusyError when the queue is full or the wait too long. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#inFlight >= this.#limits.maxInFlight) await this.#wait(signal)
    else this.#inFlight++
    try {
      return await task()
    } finally {
      this.#release()
    }
  }

  /** `signer` with every signature going through this queue. */
  wrap(signer: Signer): Signer {
    return new QueuedSigner(signer, this)
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    const { maxQueued, queueDeadlineMs, maxInFlight } = this.#limits
    if (this.#waiting.size >= maxQueued) {
      return Promise.reject(
        new SignerBusyError(
          'signer_queue_full',
          `Cannot sign: ${maxInFlight} signatures in flight and ${maxQueued} queued`,
        ),
      )
    }
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.#waiting.delete(waiter)
      }
      const waiter: Waiter = {
        start: () => {
          done()
          resolve()
        },
        fail: (e) => {
          done()
          reject(e)
        },
      }
      const timer = setTimeout(() => {
        waiter.fail(
          new SignerBusyError(
            'signer_deadline',
            `Cannot sign: still queued after ${queueDeadlineMs} ms`,
          ),
        )
      }, queueDeadlineMs)
      const onAbort = (): void => {
        waiter.fail(new Error('Cannot sign: aborted while queued'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.add(waiter)
    })
  }

  /** Hands the slot to the oldest waiter, or frees it. */
  #release(): void {
    const next = this.#waiting.values().next()
    if (next.done === true) this.#inFlight--
    else next.value.start() // the slot passes on; #inFlight is unchanged
  }
}

class QueuedSigner implements Signer {
  readonly #inner: Signer
  readonly #queue: SignerQueue
  constructor(inner: Signer, queue: SignerQueue) {
    this.#inner = inner
    this.#queue = queue
  }
  get schemes(): readonly SignatureScheme[] {
    return this.#inner.schemes
  }
  sign(scheme: SignatureScheme, content: Uint8Array, context?: SignContext): Promise<Uint8Array> {
    return this.#queue.run(() => this.#inner.sign(scheme, content, context), context?.signal)
  }
}
