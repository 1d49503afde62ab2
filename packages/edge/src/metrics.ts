/**
 * Prometheus metrics for one edge (prom-client, a registry per edge so several
 * edges can run in one process, as `outpost up` and the tests do).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Signer, SignContext, SignatureScheme } from '@outpost/tls'
import type { RequestRecord } from './proxy/handler.ts'

export class EdgeMetrics {
  readonly registry = new Registry()
  readonly requests: Counter<'site' | 'status'>
  readonly cacheResults: Counter<'result'>
  readonly handshakes: Counter<'group' | 'resumed'>
  readonly handshakeFailures: Counter<'reason'>
  readonly keylessLatency: Histogram<'result'>
  readonly keylessErrors: Counter<'code'>
  /** Attack limits: full handshakes refused before signing, by reason (docs/edge.md "Attack limits"). */
  readonly handshakeShed: Counter<'reason'>
  /** Attack limits: HTTP connections, streams or sessions cut by a limit, by reason. */
  readonly httpLimits: Counter<'reason'>
  #hits = 0
  #lookups = 0
  /**
   * Requests counted since the last scrape, by site then status: observe() is
   * two Map lookups (prom-client's labelled inc() hashes its labels on every
   * call); the counts move into `requests` when it is collected.
   */
  readonly #pending = new Map<string, Map<number, number>>()

  /** Exports the count of requests answered at the HTTP/1.1 front door (read at scrape). */
  frontDoorAnswers(count: () => number): void {
    new Counter({
      name: 'outpost_edge_front_door_answers_total',
      help: 'Requests protection answered at the HTTP/1.1 front door, before node:http',
      registers: [this.registry],
      collect() {
        this.reset()
        this.inc(count())
      },
    })
  }

  constructor(cacheStats?: () => { bytes: number; entries: number }) {
    const registers = [this.registry]
    this.requests = new Counter({
      name: 'outpost_edge_requests_total',
      help: 'Requests answered, by site and status code',
      labelNames: ['site', 'status'],
      registers,
      collect: () => {
        this.#flush()
      },
    })
    this.cacheResults = new Counter({
      name: 'outpost_edge_cache_requests_total',
      help: 'Cacheable requests by cache result (HIT, MISS, STALE, REVALIDATED, EXPIRED, BYPASS)',
      labelNames: ['result'],
      registers,
    })
    new Gauge({
      name: 'outpost_edge_cache_hit_ratio',
      help: 'Share of cache lookups answered from the cache (HIT, STALE or REVALIDATED)',
      registers,
      collect: () => {
        const g = this.registry.getSingleMetric('outpost_edge_cache_hit_ratio') as Gauge
        g.set(this.#lookups === 0 ? 0 : this.#hits / this.#lookups)
      },
    })
    if (cacheStats !== undefined) {
      new Gauge({
        name: 'outpost_edge_cache_bytes',
        help: 'Bytes of sealed cache entries on disk',
        registers,
        collect: () => {
          ;(this.registry.getSingleMetric('outpost_edge_cache_bytes') as Gauge).set(
            cacheStats().bytes,
          )
        },
      })
      new Gauge({
        name: 'outpost_edge_cache_entries',
        help: 'Cache entries on disk',
        registers,
        collect: () => {
          ;(this.registry.getSingleMetric('outpost_edge_cache_entries') as Gauge).set(
            cacheStats().entries,
          )
        },
      })
    }
    this.handshakes = new Counter({
      name: 'outpost_edge_tls_handshakes_total',
      help: 'Completed TLS handshakes by key-exchange group and resumption',
      labelNames: ['group', 'resumed'],
      registers,
    })
    this.handshakeFailures = new Counter({
      name: 'outpost_edge_tls_handshake_failures_total',
      help: 'Failed TLS handshakes by reason',
      labelNames: ['reason'],
      registers,
    })
    this.keylessLatency = new Histogram({
      name: 'outpost_edge_keyless_sign_seconds',
      help: 'Latency of remote (keyless) signatures',
      labelNames: ['result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    })
    this.keylessErrors = new Counter({
      name: 'outpost_edge_keyless_errors_total',
      help: 'Failed remote signatures by error code',
      labelNames: ['code'],
      registers,
    })
    this.handshakeShed = new Counter({
      name: 'outpost_edge_tls_handshake_shed_total',
      help: 'Full TLS handshakes shed before or instead of signing, by reason (ip_budget, prefix_budget, zone_budget, node_budget, signer_queue_full, signer_deadline)',
      labelNames: ['reason'],
      registers,
    })
    this.httpLimits = new Counter({
      name: 'outpost_edge_http_limit_total',
      help: 'HTTP connections, streams or sessions cut by an attack limit, by reason',
      labelNames: ['reason'],
      registers,
    })
  }

  /** Records one finished request. */
  observe(r: RequestRecord): void {
    let bySite = this.#pending.get(r.site)
    if (bySite === undefined) {
      bySite = new Map()
      this.#pending.set(r.site, bySite)
    }
    bySite.set(r.status, (bySite.get(r.status) ?? 0) + 1)
    if (r.cache === 'NONE') return
    this.cacheResults.inc({ result: r.cache })
    if (r.cache === 'BYPASS') return
    this.#lookups++
    if (r.cache === 'HIT' || r.cache === 'STALE' || r.cache === 'REVALIDATED') this.#hits++
  }

  /** Moves the pending request counts into the prom-client counter. */
  #flush(): void {
    for (const [site, bySite] of this.#pending) {
      for (const [status, n] of bySite) {
        if (n > 0) this.requests.inc({ site, status: String(status) }, n)
      }
      bySite.clear()
    }
  }

  handshake(group: string, resumed: boolean): void {
    this.handshakes.inc({ group, resumed: String(resumed) })
  }

  /** Wraps a signer so every signature's latency and failure is counted. */
  instrument(signer: Signer): Signer {
    return new InstrumentedSigner(signer, this)
  }

  text(): Promise<string> {
    return this.registry.metrics()
  }
}

/** A Signer that measures the one it wraps. */
export class InstrumentedSigner implements Signer {
  readonly #inner: Signer
  readonly #m: EdgeMetrics
  constructor(inner: Signer, metrics: EdgeMetrics) {
    this.#inner = inner
    this.#m = metrics
  }
  get schemes(): readonly SignatureScheme[] {
    return this.#inner.schemes
  }
  async sign(
    scheme: SignatureScheme,
    content: Uint8Array,
    context?: SignContext,
  ): Promise<Uint8Array> {
    const end = this.#m.keylessLatency.startTimer()
    try {
      const sig = await this.#inner.sign(scheme, content, context)
      end({ result: 'ok' })
      return sig
    } catch (e) {
      const shed = (e as { shedReason?: unknown }).shedReason
      if (typeof shed === 'string') {
        // Refused by the edge's own signer queue: no key-server work happened.
        this.#m.handshakeShed.inc({ reason: shed })
        throw e
      }
      end({ result: 'error' })
      const code = (e as { code?: unknown }).code
      this.#m.keylessErrors.inc({ code: typeof code === 'string' ? code : 'unknown' })
      throw e
    }
  }
}
