/**
 * Stateless, signed challenges and the state that makes them single-use.
 *
 *   c       = base64url(payload ‖ tag)                   (64 characters)
 *   payload = version(1)=1 ‖ tier(1) ‖ epoch(4) ‖ issued(8, ms, float64)
 *             ‖ difficulty(1) ‖ H8(zone) ‖ H8(user-agent) ‖ nonce(16) ‖ 0(1)
 *   tag     = HMAC-SHA256(key[epoch], payload)[0..16]
 *
 * Tier 0 (proof of work): the client finds n with SHA-256(c ‖ ":" ‖ decimal n) having
 * `difficulty` leading zero bits. Tier 1 (no JavaScript): a timed meta refresh; the
 * challenge is redeemable only after the minimum delay. Either is redeemed once: the
 * nonce goes into a bounded replay cache until the challenge would expire (AP9).
 */
import { createHash, randomBytes } from 'node:crypto'

/** SHA-256(s)[0..8]: binds a challenge to its zone and User-Agent. */
function h8(s: string): Buffer {
  return createHash('sha256').update(s).digest().subarray(0, 8)
}
import { ctEqual } from '@outpost/wire'
import type { KeyRing } from './keys.ts'

const VERSION = 1
const PAYLOAD = 40
const TAG = 16
export const CHALLENGE_CHARS = Math.ceil(((PAYLOAD + TAG) * 4) / 3)

export const Tier = { pow: 0, noJs: 1 } as const
export type Tier = (typeof Tier)[keyof typeof Tier]

export interface ChallengeFacts {
  readonly zone: string
  readonly userAgent: string
}

export function issueChallenge(
  keys: KeyRing,
  f: ChallengeFacts,
  tier: Tier,
  difficulty: number,
  nowMs: number,
): string {
  const p = Buffer.alloc(PAYLOAD)
  p[0] = VERSION
  p[1] = tier
  p.writeUInt32BE(keys.epoch, 2)
  p.writeDoubleBE(nowMs, 6)
  p[14] = difficulty
  h8(f.zone).copy(p, 15)
  h8(f.userAgent).copy(p, 23)
  randomBytes(16).copy(p, 31)
  const tag = keys.mac(keys.epoch, p).mac.subarray(0, TAG)
  return Buffer.concat([p, tag]).toString('base64url')
}

export type Opened =
  | {
      readonly ok: true
      readonly tier: Tier
      readonly issued: number
      readonly difficulty: number
      readonly nonce: string
    }
  | { readonly ok: false; readonly why: 'forged' | 'expired' }

/** Checks the MAC, zone and UA binding and age of a challenge (not the solution). */
export function openChallenge(
  keys: KeyRing,
  c: string,
  f: ChallengeFacts,
  nowMs: number,
  ttlMs: number,
): Opened {
  if (c.length !== CHALLENGE_CHARS) return { ok: false, why: 'forged' }
  const raw = Buffer.from(c, 'base64url')
  if (raw.length !== PAYLOAD + TAG) return { ok: false, why: 'forged' }
  const p = raw.subarray(0, PAYLOAD)
  const { mac, known } = keys.mac(p.readUInt32BE(2), p)
  let good = ctEqual(mac.subarray(0, TAG), raw.subarray(PAYLOAD)) && known
  good = p[0] === VERSION && good
  good = ctEqual(p.subarray(15, 23), h8(f.zone)) && good
  good = ctEqual(p.subarray(23, 31), h8(f.userAgent)) && good
  if (!good) return { ok: false, why: 'forged' }
  const issued = p.readDoubleBE(6)
  if (nowMs - issued > ttlMs || issued - nowMs > 5000) return { ok: false, why: 'expired' }
  return {
    ok: true,
    tier: p[1] === 1 ? Tier.noJs : Tier.pow,
    issued,
    difficulty: p[14] ?? 0,
    nonce: p.subarray(31, 47).toString('base64url'),
  }
}

/** Leading zero bits of SHA-256(c ‖ ":" ‖ n) ≥ difficulty. */
export function checkWork(c: string, n: string, difficulty: number): boolean {
  if (!/^\d{1,16}$/.test(n)) return false
  const d = createHash('sha256').update(`${c}:${n}`).digest()
  let bits = difficulty
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const m = bits >= 8 ? 0xff : (0xff00 >> bits) & 0xff
    if (((d[i] ?? 0xff) & m) !== 0) return false
  }
  return true
}

/** Solves a PoW challenge (tests and benchmarks; the browser runs the page's solver). */
export function solveWork(c: string, difficulty: number): string {
  for (let n = 0; ; n++) if (checkWork(c, String(n), difficulty)) return String(n)
}

/**
 * Bounded single-use set with expiry. All entries share one TTL, so insertion order
 * is expiry order: the oldest are dropped first when over capacity or expired.
 */
export class ReplayCache {
  readonly #seen = new Map<string, number>()
  readonly #max: number
  constructor(maxEntries: number) {
    this.#max = maxEntries
  }
  get size(): number {
    return this.#seen.size
  }
  /** True the first time `id` is seen (and records it until `expiresMs`). */
  claim(id: string, expiresMs: number, nowMs: number): boolean {
    for (const [k, exp] of this.#seen) {
      if (exp > nowMs && this.#seen.size < this.#max) break
      this.#seen.delete(k)
    }
    if (this.#seen.has(id)) return false
    this.#seen.set(id, expiresMs)
    return true
  }
}

interface Offender {
  fails: number[]
  offences: number
  until: number
}

/**
 * Escalating bans for failed solutions (banjax behaviour): `failures` within the window
 * → banned for `base`, doubling per repeat offence up to `max`. Bounded: the oldest
 * tracked address is forgotten beyond `maxTracked`.
 */
export class Bans {
  readonly #by = new Map<string, Offender>()
  readonly #maxTracked: number
  constructor(maxTracked = 100_000) {
    this.#maxTracked = maxTracked
  }

  bannedUntil(key: string, nowMs: number): number {
    const o = this.#by.get(key)
    return o !== undefined && o.until > nowMs ? o.until : 0
  }

  /** Records a failure; returns the ban end when this failure triggers a ban. */
  fail(
    key: string,
    nowMs: number,
    cfg: { failures: number; windowSeconds: number; baseSeconds: number; maxSeconds: number },
  ): number {
    let o = this.#by.get(key)
    if (o === undefined) {
      o = { fails: [], offences: 0, until: 0 }
      if (this.#by.size >= this.#maxTracked) {
        const oldest = this.#by.keys().next().value
        if (oldest !== undefined) this.#by.delete(oldest)
      }
    }
    this.#by.delete(key)
    this.#by.set(key, o)
    o.fails = o.fails.filter((t) => nowMs - t < cfg.windowSeconds * 1000)
    o.fails.push(nowMs)
    if (o.fails.length < cfg.failures) return 0
    o.fails = []
    o.offences++
    const s = Math.min(cfg.maxSeconds, cfg.baseSeconds * 2 ** (o.offences - 1))
    o.until = nowMs + s * 1000
    return o.until
  }

  /** Lifts a ban (operator action or a decision from the control plane). */
  lift(key: string): void {
    this.#by.delete(key)
  }

  /** Sets a ban directly (a decision pushed from the control plane). */
  set(key: string, untilMs: number): void {
    const o = this.#by.get(key) ?? { fails: [], offences: 1, until: 0 }
    o.until = untilMs
    this.#by.set(key, o)
  }
}
