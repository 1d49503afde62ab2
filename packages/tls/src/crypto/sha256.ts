/**
 * SHA-256 (FIPS 180-4 §6.2) and HMAC-SHA256 (RFC 2104) in JavaScript, for the
 * key schedule and transcript of the SHA-256 suites (RFC 8446 §7.1, §4.4.1).
 *
 * Why not node:crypto: TLS hashes tiny inputs (an HKDF label is one block, a
 * Finished MAC two), and each node:crypto call costs a fixed 4–6 µs (a JS Hmac
 * or Hash object, an OpenSSL 3 EVP fetch, and for HMAC a KeyObject, another
 * 2–3 µs) against ~0.35 µs for one compression here. A full handshake makes
 * ~25 such calls. An HMAC key is also prepared once (the states after the
 * padded key blocks, RFC 2104 §4's precomputation) and reused for every label
 * expanded from the same secret.
 *
 * Timing: SHA-256 is 32-bit additions, rotations and bitwise operations with
 * no data-dependent branches or look-ups (K is indexed by the round only), so
 * this code runs in time independent of the (secret) input, as OpenSSL's does.
 *
 * Zeroisation: the message schedule and block scratch buffers are cleared after
 * every call; HMAC keys and running states live in typed arrays that `drop()`
 * zeroises, which a KeyObject never allowed.
 */

/** The round constants K (FIPS 180-4 §4.2.2). */
// prettier-ignore
const K = Int32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
)

/** H(0) (FIPS 180-4 §5.3.3). */
// prettier-ignore
const IV = Int32Array.of(
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
)

export const SHA256_BLOCK_BYTES = 64
export const SHA256_BYTES = 32

/** The message schedule: scratch, zeroised by every public entry point before it returns. */
const W = new Int32Array(16)

/** One compression of the 64-byte block at `block[at]` into `state` (FIPS 180-4 §6.2.2). */
function compress(state: Int32Array, block: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++, at += 4) {
    W[i] =
      ((block[at] as number) << 24) |
      ((block[at + 1] as number) << 16) |
      ((block[at + 2] as number) << 8) |
      (block[at + 3] as number)
  }
  let a = state[0] as number
  let b = state[1] as number
  let c = state[2] as number
  let d = state[3] as number
  let e = state[4] as number
  let f = state[5] as number
  let g = state[6] as number
  let h = state[7] as number
  for (let i = 0; i < 64; i++) {
    let w: number
    if (i < 16) {
      w = W[i] as number
    } else {
      // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], in a 16-word window.
      const x = W[(i - 15) & 15] as number
      const y = W[(i - 2) & 15] as number
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
      w = ((W[i & 15] as number) + s0 + (W[(i - 7) & 15] as number) + s1) | 0
      W[i & 15] = w
    }
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const ch = g ^ (e & (f ^ g))
    const t1 = (h + S1 + ch + (K[i] as number) + w) | 0
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const maj = (a & b) | (c & (a | b))
    const t2 = (S0 + maj) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  state[0] = ((state[0] as number) + a) | 0
  state[1] = ((state[1] as number) + b) | 0
  state[2] = ((state[2] as number) + c) | 0
  state[3] = ((state[3] as number) + d) | 0
  state[4] = ((state[4] as number) + e) | 0
  state[5] = ((state[5] as number) + f) | 0
  state[6] = ((state[6] as number) + g) | 0
  state[7] = ((state[7] as number) + h) | 0
}

function writeState(state: Int32Array, out: Uint8Array, at: number): void {
  for (let i = 0; i < 8; i++, at += 4) {
    const v = state[i] as number
    out[at] = v >>> 24
    out[at + 1] = (v >>> 16) & 0xff
    out[at + 2] = (v >>> 8) & 0xff
    out[at + 3] = v & 0xff
  }
}

/**
 * A running SHA-256: `update` any number of times, `digest` once. `copy` forks
 * the state (the transcript hashes a prefix of itself several times).
 */
export class Sha256 {
  readonly #state: Int32Array
  readonly #block = new Uint8Array(SHA256_BLOCK_BYTES)
  #filled = 0
  #bytes = 0

  constructor(from?: Sha256) {
    if (from) {
      this.#state = new Int32Array(from.#state)
      this.#block.set(from.#block)
      this.#filled = from.#filled
      this.#bytes = from.#bytes
    } else {
      this.#state = new Int32Array(IV)
    }
  }

  /** Starts from a state that has absorbed `bytes` (a multiple of 64) of input: an HMAC pad. */
  static resume(state: Int32Array, bytes: number): Sha256 {
    const s = new Sha256()
    s.#state.set(state)
    s.#bytes = bytes
    return s
  }

  update(data: Uint8Array): this {
    const block = this.#block
    const n = data.length
    let at = 0
    this.#bytes += n
    if (this.#filled > 0) {
      const k = Math.min(n, SHA256_BLOCK_BYTES - this.#filled)
      block.set(k === n ? data : data.subarray(0, k), this.#filled)
      this.#filled += k
      at = k
      if (this.#filled < SHA256_BLOCK_BYTES) return this
      compress(this.#state, block, 0)
      this.#filled = 0
    }
    for (; n - at >= SHA256_BLOCK_BYTES; at += SHA256_BLOCK_BYTES) compress(this.#state, data, at)
    if (at < n) {
      block.set(data.subarray(at), 0)
      this.#filled = n - at
    }
    W.fill(0)
    return this
  }

  /** Finishes (FIPS 180-4 §5.1.1 padding) and writes the 32-byte hash into `out` at `at`. */
  digestInto(out: Uint8Array, at = 0): void {
    const block = this.#block
    const bits = this.#bytes * 8
    block[this.#filled] = 0x80
    block.fill(0, this.#filled + 1)
    if (this.#filled + 1 > SHA256_BLOCK_BYTES - 8) {
      compress(this.#state, block, 0)
      block.fill(0)
    }
    // The length in bits as a 64-bit big-endian number (inputs stay far below 2^53 bits).
    const hi = Math.floor(bits / 0x100000000)
    block[56] = hi >>> 24
    block[57] = (hi >>> 16) & 0xff
    block[58] = (hi >>> 8) & 0xff
    block[59] = hi & 0xff
    block[60] = bits >>> 24
    block[61] = (bits >>> 16) & 0xff
    block[62] = (bits >>> 8) & 0xff
    block[63] = bits & 0xff
    compress(this.#state, block, 0)
    writeState(this.#state, out, at)
    this.drop()
  }

  digest(): Uint8Array {
    const out = new Uint8Array(SHA256_BYTES)
    this.digestInto(out)
    return out
  }

  /** Zeroises the state and the buffered input; the object is unusable afterwards. */
  drop(): void {
    this.#state.fill(0)
    this.#block.fill(0)
    this.#filled = 0
    W.fill(0)
  }
}

/** SHA-256 of `data` in one call. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Sha256().update(data).digest()
}

const IPAD = 0x36
const OPAD = 0x5c

/** Scratch for {@link HmacSha256.mac}: a running state and a block, zeroised after each MAC. */
const MAC_STATE = new Int32Array(8)
const MAC_BLOCK = new Uint8Array(SHA256_BLOCK_BYTES)
/** The inner hash, then the MAC before truncation. */
const MAC_INNER = new Uint8Array(SHA256_BYTES)

/** Feeds `p` into MAC_STATE through MAC_BLOCK, which holds `filled` bytes; returns the new fill. */
function absorb(p: Uint8Array, filled: number): number {
  const st = MAC_STATE
  const block = MAC_BLOCK
  const n = p.length
  let at = 0
  while (at < n) {
    if (filled === 0 && n - at >= SHA256_BLOCK_BYTES) {
      compress(st, p, at)
      at += SHA256_BLOCK_BYTES
      continue
    }
    const k = Math.min(n - at, SHA256_BLOCK_BYTES - filled)
    block.set(k === n ? p : p.subarray(at, at + k), filled)
    filled += k
    at += k
    if (filled === SHA256_BLOCK_BYTES) {
      compress(st, block, 0)
      filled = 0
    }
  }
  return filled
}

/**
 * Hashes `parts` into MAC_STATE, which holds a state after one 64-byte block
 * (an HMAC pad), then pads (FIPS 180-4 §5.1.1): MAC_STATE ends as the hash.
 */
function finishAfterPad(a: Uint8Array, b: Uint8Array | undefined, c: Uint8Array | undefined): void {
  let filled = absorb(a, 0)
  if (b) filled = absorb(b, filled)
  if (c) filled = absorb(c, filled)
  const block = MAC_BLOCK
  const st = MAC_STATE
  const bytes = SHA256_BLOCK_BYTES + a.length + (b ? b.length : 0) + (c ? c.length : 0)
  if (bytes >= 0x20000000) throw new RangeError('Cannot MAC 512 MiB or more in one call')
  block[filled] = 0x80
  block.fill(0, filled + 1)
  if (filled + 1 > SHA256_BLOCK_BYTES - 8) {
    compress(st, block, 0)
    block.fill(0)
  }
  // MACed inputs are far below 2^32 bits: the high length word stays 0.
  const bits = bytes * 8
  block[60] = bits >>> 24
  block[61] = (bits >>> 16) & 0xff
  block[62] = (bits >>> 8) & 0xff
  block[63] = bits & 0xff
  compress(st, block, 0)
}

/**
 * An HMAC-SHA256 key (RFC 2104) prepared once: the hash states after the
 * (key ⊕ ipad) and (key ⊕ opad) blocks. Each `mac` then costs the message's
 * blocks plus one block for the outer hash.
 */
export class HmacSha256 {
  /** The inner state (words 0–7) and the outer state (words 8–15). */
  readonly #states = new Int32Array(16)

  constructor(key: Uint8Array) {
    const block = MAC_BLOCK
    block.fill(0)
    // RFC 2104 §2: keys longer than the block are hashed first.
    if (key.length > SHA256_BLOCK_BYTES) new Sha256().update(key).digestInto(block)
    else block.set(key)
    for (let i = 0; i < SHA256_BLOCK_BYTES; i++) block[i] = (block[i] as number) ^ IPAD
    const st = MAC_STATE
    st.set(IV)
    compress(st, block, 0)
    this.#states.set(st)
    for (let i = 0; i < SHA256_BLOCK_BYTES; i++) block[i] = (block[i] as number) ^ IPAD ^ OPAD
    st.set(IV)
    compress(st, block, 0)
    this.#states.set(st, 8)
    st.fill(0)
    block.fill(0)
    W.fill(0)
  }

  /** HMAC(key, a ‖ b ‖ c), truncated to `length` bytes (at most 32). */
  mac(a: Uint8Array, b?: Uint8Array, c?: Uint8Array, length = SHA256_BYTES): Uint8Array {
    const states = this.#states
    for (let i = 0; i < 8; i++) MAC_STATE[i] = states[i] as number
    finishAfterPad(a, b, c)
    writeState(MAC_STATE, MAC_INNER, 0)
    for (let i = 0; i < 8; i++) MAC_STATE[i] = states[i + 8] as number
    finishAfterPad(MAC_INNER, undefined, undefined)
    writeState(MAC_STATE, MAC_INNER, 0)
    const out = new Uint8Array(length)
    for (let i = 0; i < length; i++) out[i] = MAC_INNER[i] as number
    MAC_STATE.fill(0)
    MAC_BLOCK.fill(0)
    MAC_INNER.fill(0)
    W.fill(0)
    return out
  }

  /** Zeroises the prepared key. */
  drop(): void {
    this.#states.fill(0)
  }
}
