/**
 * Clearance-cookie keys from the control plane's lease (node mode): every edge of one
 * control plane issues and checks clearance cookies and challenges under the same HMAC
 * keys (packages/protect keys.ts), so a visitor cleared on one edge is cleared on all of
 * them, and after a restart. Like the STEKs (LeaseStekProvider), the keys live only in
 * memory, as Buffers decoded straight from the lease body, each registered with the
 * custody secret registry (`clearance:<epoch>`), so a brick zeroises them; `close()`
 * then drops the ring's KeyObjects. A standalone edge keeps its own random keys.
 *
 * @example
 * ```ts
 * const clearance = new LeaseClearanceKeys(protection.keys, { onKey, onDrop })
 * if (lease.clearanceKeys) clearance.update(lease.clearanceKeys)   // every renewal
 * clearance.close()                                                // brick
 * ```
 */
import type { EpochKey, KeyRing } from '@outpost/protect'

export class LeaseClearanceKeys {
  readonly #ring: KeyRing
  readonly #onKey: ((name: string, key: Buffer) => void) | undefined
  readonly #onDrop: ((name: string) => void) | undefined
  #closed = false

  /** `onKey`/`onDrop`: register and release each key with the custody secret registry. */
  constructor(
    ring: KeyRing,
    hooks: { onKey?: (name: string, key: Buffer) => void; onDrop?: (name: string) => void } = {},
  ) {
    this.#ring = ring
    this.#onKey = hooks.onKey
    this.#onDrop = hooks.onDrop
  }

  /** Takes ownership of the keys' Buffers (zeroised when they leave the lease). */
  update(keys: readonly EpochKey[]): void {
    if (this.#closed) {
      for (const k of keys) k.key.fill(0)
      return
    }
    const { added, dropped } = this.#ring.replace(keys)
    for (const e of dropped) this.#onDrop?.(`clearance:${e}`)
    for (const e of added) {
      const k = keys.find((x) => x.epoch === e)
      if (k !== undefined) this.#onKey?.(`clearance:${e}`, k.key)
    }
  }

  /** Brick or shutdown: zeroises every key and drops its KeyObject; later leases are ignored. */
  close(): void {
    this.#closed = true
    this.#ring.wipe()
  }
}
