/**
 * Randomness for values the handshake sends in the clear or that only need to be
 * unpredictable, never secret keys: ServerHello.random (RFC 8446 §4.1.3),
 * ticket_age_add (§4.6.1) and ticket AEAD nonces. A node:crypto `randomBytes`
 * call costs ~4–5 µs whatever its size and a resumed handshake with two tickets
 * needs five of them; here one 4 KiB `randomFillSync` serves ~100 handshakes.
 *
 * Bytes are copied out and zeroed in the pool, so none is handed out twice.
 * Secrets (STEKs, the HelloRetryRequest cookie key) still come straight from
 * `randomBytes`.
 */
import { randomFillSync } from 'node:crypto'

const POOL_BYTES = 4096
const pool = new Uint8Array(POOL_BYTES)
let used = POOL_BYTES

/** `n` fresh CSPRNG bytes (n ≤ 4096). */
export function publicRandom(n: number): Uint8Array {
  if (n > POOL_BYTES) throw new RangeError(`Cannot take ${n} random bytes from the pool`)
  if (POOL_BYTES - used < n) {
    randomFillSync(pool)
    used = 0
  }
  const view = pool.subarray(used, used + n)
  const out = new Uint8Array(view)
  view.fill(0)
  used += n
  return out
}
