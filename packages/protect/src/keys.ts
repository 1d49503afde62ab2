/**
 * HMAC keys for clearance tokens and challenges, by epoch, held only in memory.
 * `rotate()` starts a new epoch and keeps `history` older keys so tokens stay valid
 * for their lifetime; `shred()` zeroises every key, which invalidates every token
 * issued so far (AP7). Keys are Buffers (never strings) and zeroised when dropped.
 *
 * Standalone, an edge makes its own random keys. Enrolled in a control plane, it
 * takes the control plane's keys from every lease with `replace()` (docs/protect-control.md
 * "Shared clearance keys"), so a visitor cleared on one edge is cleared on all of them
 * and across restarts; `wipe()` zeroises them on a brick.
 *
 * Each key is also held as a KeyObject: createHmac with a raw Buffer re-imports the key
 * into OpenSSL 3 on every call (measured here: 90 µs vs 15 µs per HMAC). The KeyObject's
 * copy lives in OpenSSL's memory; shredding drops it, which frees it when collected.
 */
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'
import { ctEqual, zeroize } from '@outpost/wire'

export const KEY_BYTES = 32

/** One key as a control plane hands it out (the Buffer's ownership passes to the ring). */
export interface EpochKey {
  readonly epoch: number
  readonly key: Buffer
  /** The key new tokens are issued under (exactly one per set). */
  readonly current: boolean
}

export class KeyRing {
  readonly #keys = new Map<number, Buffer>()
  readonly #objects = new Map<number, KeyObject>()
  readonly #history: number
  #epoch: number
  /** Used when an epoch is unknown, so verification costs the same either way. */
  readonly #dummy = createSecretKey(randomBytes(KEY_BYTES))

  /**
   * @param initial key material per epoch (copied); a random key at epoch 1 when empty.
   * @param history how many previous epochs stay valid after a rotation.
   */
  constructor(initial: ReadonlyMap<number, Uint8Array> = new Map(), history = 2) {
    this.#history = history
    this.#epoch = 0
    for (const [epoch, key] of initial) {
      if (key.length !== KEY_BYTES)
        throw new Error(`key for epoch ${epoch}: need ${KEY_BYTES} bytes`)
      this.#set(epoch, Buffer.from(key))
      this.#epoch = Math.max(this.#epoch, epoch)
    }
    if (this.#keys.size === 0) this.rotate()
  }

  get epoch(): number {
    return this.#epoch
  }

  /** Starts a new epoch (a random key unless one is given) and drops keys beyond history. */
  rotate(key?: Uint8Array): number {
    this.#epoch = (this.#epoch + 1) >>> 0
    this.#set(this.#epoch, key === undefined ? randomBytes(KEY_BYTES) : Buffer.from(key))
    for (const e of [...this.#keys.keys()]) {
      if (e < this.#epoch - this.#history) {
        const k = this.#keys.get(e)
        if (k !== undefined) zeroize(k)
        this.#keys.delete(e)
        this.#objects.delete(e)
      }
    }
    return this.#epoch
  }

  /**
   * Holds exactly `keys` from now on (the control plane's set: current key + history).
   * Takes ownership of the Buffers: a key already held (same epoch, same bytes) keeps its
   * KeyObject and the duplicate is zeroised; keys absent from `keys` are zeroised and dropped.
   * Returns the epochs added and dropped (for the custody secret registry).
   */
  replace(keys: readonly EpochKey[]): { added: number[]; dropped: number[] } {
    const current = keys.filter((k) => k.current)
    const bad =
      current.length !== 1
        ? 'need exactly one current key'
        : keys.find(
            (k) =>
              k.key.length !== KEY_BYTES ||
              !Number.isInteger(k.epoch) ||
              k.epoch < 1 ||
              k.epoch > 0xffffffff,
          )
    if (bad !== undefined) {
      for (const k of keys) zeroize(k.key)
      throw new Error(
        typeof bad === 'string'
          ? `Cannot take clearance keys: ${bad}`
          : `Cannot take clearance keys: epoch ${bad.epoch}: need a ${KEY_BYTES}-byte key and an epoch in 1..2^32-1`,
      )
    }
    const added: number[] = []
    const dropped: number[] = []
    const keep = new Set(keys.map((k) => k.epoch))
    for (const [e, k] of this.#keys) {
      if (!keep.has(e)) {
        zeroize(k)
        this.#keys.delete(e)
        this.#objects.delete(e)
        dropped.push(e)
      }
    }
    for (const k of keys) {
      const have = this.#keys.get(k.epoch)
      if (have !== undefined && ctEqual(have, k.key)) {
        if (have !== k.key) zeroize(k.key)
        continue
      }
      if (have !== undefined) {
        zeroize(have)
        dropped.push(k.epoch)
      }
      this.#set(k.epoch, k.key)
      added.push(k.epoch)
    }
    this.#epoch = current[0]?.epoch ?? this.#epoch
    return { added, dropped }
  }

  /** Epochs held (for tests and status; never the bytes). */
  get epochs(): number[] {
    return [...this.#keys.keys()].sort((a, b) => a - b)
  }

  /**
   * Brick: zeroise every key and drop its KeyObject, with no fresh key (nothing verifies
   * and nothing new is issued under a real key until `replace()` or `rotate()`).
   */
  wipe(): void {
    for (const k of this.#keys.values()) zeroize(k)
    this.#keys.clear()
    this.#objects.clear()
  }

  /** Crypto-shred: zeroise all keys and start over with a fresh one. */
  shred(): void {
    for (const k of this.#keys.values()) zeroize(k)
    this.#keys.clear()
    this.#objects.clear()
    this.rotate()
  }

  #set(epoch: number, key: Buffer): void {
    if (key.length !== KEY_BYTES) throw new Error(`key for epoch ${epoch}: need ${KEY_BYTES} bytes`)
    this.#keys.set(epoch, key)
    this.#objects.set(epoch, createSecretKey(key))
  }

  /** HMAC-SHA256 of `data` under the key of `epoch` (a dummy key when unknown). */
  mac(epoch: number, data: Uint8Array): { mac: Buffer; known: boolean } {
    const k = this.#objects.get(epoch)
    return {
      mac: createHmac('sha256', k ?? this.#dummy)
        .update(data)
        .digest(),
      known: k !== undefined,
    }
  }
}
