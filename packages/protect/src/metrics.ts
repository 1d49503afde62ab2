/**
 * Prometheus counters per zone, rule and action (including "would" counters of
 * log-only rules), a challenge solve-time histogram, a bounded per-zone timeline of
 * 10 s buckets for the dashboard, and a z-score anomaly detector that fires once per
 * de-duplication window (AP2, AP18).
 */
import type { AnomalyAlert, TimelineBucket } from './types.ts'

export const BUCKET_MS = 10_000
const SOLVE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]

interface LiveBucket {
  start: number
  requests: number
  passed: number
  rejected: number
  challenged: number
  wouldBlock: number
  perSecond: Uint32Array
  rules: Map<string, number>
}

function freeze(b: LiveBucket): TimelineBucket {
  return {
    start: b.start,
    requests: b.requests,
    passed: b.passed,
    rejected: b.rejected,
    challenged: b.challenged,
    wouldBlock: b.wouldBlock,
    peakRps: Math.max(...b.perSecond),
    topRules: [...b.rules]
      .sort((x, y) => y[1] - x[1])
      .slice(0, 5)
      .map(([rule, hits]) => ({ rule, hits })),
  }
}

export interface AnomalyParams {
  readonly z: number
  readonly minRequests: number
  readonly dedupSeconds: number
}

/** The zone's norm: an exponentially weighted mean and variance of bucket sizes. */
class Norm {
  mean = 0
  variance = 0
  n = 0
  alertAt = Infinity
  lastAlert = -Infinity
  update(x: number, p: AnomalyParams): void {
    const a = this.n < 10 ? 1 / (this.n + 1) : 0.05
    const d = x - this.mean
    this.mean += a * d
    this.variance = (1 - a) * (this.variance + a * d * d)
    this.n++
    const sd = Math.max(Math.sqrt(this.variance), Math.sqrt(Math.max(this.mean, 1)))
    this.alertAt = this.n >= 6 ? Math.max(p.minRequests, Math.ceil(this.mean + p.z * sd)) : Infinity
  }
}

export type Outcome = 'pass' | 'allow' | 'reject' | 'challenge' | 'would'

class Zone {
  readonly buckets: TimelineBucket[] = []
  live: LiveBucket | undefined
  readonly norm = new Norm()
}

export class Metrics {
  readonly #counters = new Map<string, number>()
  readonly #would = new Map<string, number>()
  readonly #solve = new Map<string, { counts: number[]; sum: number; n: number }>()
  readonly #bans = new Map<string, number>()
  readonly #zones = new Map<string, Zone>()
  readonly #keep: number
  readonly #onAlert: (a: AnomalyAlert) => void
  readonly #params: (zone: string) => AnomalyParams

  constructor(
    keepBuckets: number,
    params: (zone: string) => AnomalyParams,
    onAlert: (a: AnomalyAlert) => void,
  ) {
    this.#keep = keepBuckets
    this.#params = params
    this.#onAlert = onAlert
  }

  /** Counts one request's decision. */
  record(zone: string, rule: string, action: string, outcome: Outcome, now: number): void {
    const k = `${zone}\u0000${rule}\u0000${action}`
    this.#counters.set(k, (this.#counters.get(k) ?? 0) + 1)
    const b = this.#bucket(zone, now)
    b.requests++
    const sec = Math.floor((now - b.start) / 1000)
    b.perSecond[sec] = (b.perSecond[sec] ?? 0) + 1
    if (outcome === 'reject') b.rejected++
    else if (outcome === 'challenge') b.challenged++
    else b.passed++
    if (rule !== '-') b.rules.set(rule, (b.rules.get(rule) ?? 0) + 1)
    const z = this.#zones.get(zone)
    if (z !== undefined && b.requests === z.norm.alertAt) this.#maybeAlert(zone, z, b, now)
  }

  /** Counts what a log-only rule would have done (the request itself is recorded separately). */
  would(zone: string, rule: string, would: string, now: number): void {
    const k = `${zone}\u0000${rule}\u0000${would}`
    this.#would.set(k, (this.#would.get(k) ?? 0) + 1)
    const b = this.#bucket(zone, now)
    b.wouldBlock++
    b.rules.set(rule, (b.rules.get(rule) ?? 0) + 1)
  }

  wouldCount(zone: string, rule: string, would = 'block'): number {
    return this.#would.get(`${zone}\u0000${rule}\u0000${would}`) ?? 0
  }

  /**
   * Every cumulative counter: `[zone, rule, action, count]`; log-only counters as
   * `would-<what>` (`log` for log rules). The stats sync reports their deltas.
   */
  *counters(): Generator<[zone: string, rule: string, action: string, count: number]> {
    for (const [k, v] of this.#counters) {
      const [zone = '', rule = '', action = ''] = k.split('\u0000')
      yield [zone, rule, action, v]
    }
    for (const [k, v] of this.#would) {
      const [zone = '', rule = '', would = ''] = k.split('\u0000')
      yield [zone, rule, would === 'log' ? 'log' : `would-${would}`, v]
    }
  }

  count(zone: string, rule: string, action: string): number {
    return this.#counters.get(`${zone}\u0000${rule}\u0000${action}`) ?? 0
  }

  solved(zone: string, tier: string, seconds: number): void {
    const k = `${zone}\u0000${tier}`
    let h = this.#solve.get(k)
    if (h === undefined)
      this.#solve.set(k, (h = { counts: SOLVE_BUCKETS.map(() => 0), sum: 0, n: 0 }))
    SOLVE_BUCKETS.forEach((le, i) => {
      if (seconds <= le) h.counts[i] = (h.counts[i] ?? 0) + 1
    })
    h.sum += seconds
    h.n++
  }

  banned(zone: string): void {
    this.#bans.set(zone, (this.#bans.get(zone) ?? 0) + 1)
  }

  /** Finished buckets plus the live one, oldest first. */
  timeline(zone: string): TimelineBucket[] {
    const z = this.#zones.get(zone)
    if (z === undefined) return []
    return z.live === undefined ? [...z.buckets] : [...z.buckets, freeze(z.live)]
  }

  #bucket(zone: string, now: number): LiveBucket {
    let z = this.#zones.get(zone)
    if (z === undefined) this.#zones.set(zone, (z = new Zone()))
    const start = now - (now % BUCKET_MS)
    const live = z.live
    if (live !== undefined && live.start === start) return live
    if (live !== undefined) {
      // Close finished buckets (and empty ones in a gap, which the norm must see too).
      const p = this.#params(zone)
      z.buckets.push(freeze(live))
      const wasAnomalous = live.requests >= z.norm.alertAt
      if (!wasAnomalous) z.norm.update(live.requests, p)
      const gaps = Math.min(this.#keep, Math.max(0, (start - live.start) / BUCKET_MS - 1))
      for (let i = 0; i < gaps; i++) z.norm.update(0, p)
      while (z.buckets.length > this.#keep) z.buckets.shift()
    }
    const b: LiveBucket = {
      start,
      requests: 0,
      passed: 0,
      rejected: 0,
      challenged: 0,
      wouldBlock: 0,
      perSecond: new Uint32Array(BUCKET_MS / 1000),
      rules: new Map(),
    }
    z.live = b
    return b
  }

  #maybeAlert(zone: string, z: Zone, b: LiveBucket, now: number): void {
    const p = this.#params(zone)
    if (now - z.norm.lastAlert < p.dedupSeconds * 1000) return
    z.norm.lastAlert = now
    const sd = Math.max(Math.sqrt(z.norm.variance), Math.sqrt(Math.max(z.norm.mean, 1)))
    this.#onAlert({
      zone,
      time: now,
      requests: b.requests,
      mean: z.norm.mean,
      stddev: sd,
      z: (b.requests - z.norm.mean) / sd,
    })
  }

  /** Prometheus text exposition format 0.0.4. */
  prometheus(extra: readonly string[] = []): string {
    const lbl = (v: string): string => v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))
    const out: string[] = [
      '# HELP outpost_protect_requests_total Requests by zone, deciding rule and action.',
      '# TYPE outpost_protect_requests_total counter',
    ]
    for (const [k, v] of this.#counters) {
      const [zone = '', rule = '', action = ''] = k.split('\u0000')
      out.push(
        `outpost_protect_requests_total{zone="${lbl(zone)}",rule="${lbl(rule)}",action="${lbl(action)}"} ${v}`,
      )
    }
    out.push(
      '# HELP outpost_rule_would_block_total What log-only rules would have done (block, challenge, rate-limit).',
      '# TYPE outpost_rule_would_block_total counter',
    )
    for (const [k, v] of this.#would) {
      const [zone = '', rule = '', would = ''] = k.split('\u0000')
      out.push(
        `outpost_rule_would_block_total{zone="${lbl(zone)}",rule="${lbl(rule)}",would="${lbl(would)}"} ${v}`,
      )
    }
    out.push(
      '# HELP outpost_protect_challenge_solve_seconds Time from challenge issue to redemption.',
      '# TYPE outpost_protect_challenge_solve_seconds histogram',
    )
    for (const [k, h] of this.#solve) {
      const [zone = '', tier = ''] = k.split('\u0000')
      const l = `zone="${lbl(zone)}",tier="${tier}"`
      SOLVE_BUCKETS.forEach((le, i) =>
        out.push(
          `outpost_protect_challenge_solve_seconds_bucket{${l},le="${le}"} ${h.counts[i] ?? 0}`,
        ),
      )
      out.push(`outpost_protect_challenge_solve_seconds_bucket{${l},le="+Inf"} ${h.n}`)
      out.push(`outpost_protect_challenge_solve_seconds_sum{${l}} ${h.sum}`)
      out.push(`outpost_protect_challenge_solve_seconds_count{${l}} ${h.n}`)
    }
    out.push(
      '# HELP outpost_protect_bans_total Bans after failed challenges.',
      '# TYPE outpost_protect_bans_total counter',
    )
    for (const [zone, v] of this.#bans)
      out.push(`outpost_protect_bans_total{zone="${lbl(zone)}"} ${v}`)
    out.push(...extra)
    return out.join('\n') + '\n'
  }
}
