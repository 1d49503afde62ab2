/**
 * Prometheus metrics (prom-client), on their own registry so several servers
 * can run in one process (tests, `outpost up`).
 *
 * Per request the key server records one sample: an operation count by
 * opcode and result, and a latency observation by opcode. Both are kept as
 * plain counts in typed arrays (a sample is a few stores: no label hashing,
 * no object), and reach prom-client at scrape time: the counts as increments
 * of its counter, the histogram as a metric object registered in the same
 * registry, whose exposition is what prom-client's Histogram gives for the
 * same samples (metrics.test.ts holds the two equal).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client'

/** Upper bounds, in seconds, of the operation latency histogram. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1,
]
const BUCKETS = LATENCY_BUCKETS.length
// A histogram row: the bucket counts (not cumulative), then count, then sum.
const ROW = BUCKETS + 2

interface MetricValue {
  labels: Record<string, string | number>
  value: number
  metricName: string
}

/** `outpost_keyserver_operation_duration_seconds`: latency by opcode, one row per opcode. */
export class LatencyHistogram {
  readonly name = 'outpost_keyserver_operation_duration_seconds'
  readonly help = 'Time from request to answer inside the key server, by opcode'
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #opcodes: string[] = []
  readonly #rows = new Map<string, number>()
  #data = new Float64Array(0)

  /** The row of `opcode`, created on first use; callers on the hot path keep it. */
  row(opcode: string): number {
    let r = this.#rows.get(opcode)
    if (r === undefined) {
      r = this.#opcodes.length
      this.#opcodes.push(opcode)
      this.#rows.set(opcode, r)
      const grown = new Float64Array((r + 1) * ROW)
      grown.set(this.#data)
      this.#data = grown
    }
    return r
  }

  /** One observation in `row`; a value above every bound only counts towards +Inf. */
  observe(row: number, seconds: number): void {
    const d = this.#data
    const at = row * ROW
    for (let i = 0; i < BUCKETS; i++) {
      if (seconds <= (LATENCY_BUCKETS[i] as number)) {
        d[at + i] = (d[at + i] as number) + 1
        break
      }
    }
    d[at + BUCKETS] = (d[at + BUCKETS] as number) + 1
    d[at + BUCKETS + 1] = (d[at + BUCKETS + 1] as number) + seconds
  }

  /** The values in the form prom-client's registry formats (that of its Histogram). */
  get(): Promise<{
    name: string
    help: string
    type: string
    aggregator: string
    values: MetricValue[]
  }> {
    const values: MetricValue[] = []
    const bucket = `${this.name}_bucket`
    const d = this.#data
    for (let r = 0; r < this.#opcodes.length; r++) {
      const opcode = this.#opcodes[r] as string
      const at = r * ROW
      let acc = 0
      for (let i = 0; i < BUCKETS; i++) {
        acc += d[at + i] as number
        values.push({
          labels: { le: LATENCY_BUCKETS[i] as number, opcode },
          value: acc,
          metricName: bucket,
        })
      }
      const count = d[at + BUCKETS] as number
      values.push(
        { labels: { le: '+Inf', opcode }, value: count, metricName: bucket },
        {
          labels: { opcode },
          value: d[at + BUCKETS + 1] as number,
          metricName: `${this.name}_sum`,
        },
        { labels: { opcode }, value: count, metricName: `${this.name}_count` },
      )
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    })
  }

  /** For Registry#resetMetrics. */
  reset(): void {
    this.#data.fill(0)
  }
}

export class KeyServerMetrics {
  readonly registry = new Registry()
  readonly operations = new Counter({
    name: 'outpost_keyserver_operations_total',
    help: 'Keyless operations by opcode and result (ok or the error code name)',
    labelNames: ['opcode', 'result'] as const,
    registers: [this.registry],
  })
  readonly latency = new LatencyHistogram()
  readonly inFlight = new Gauge({
    name: 'outpost_keyserver_in_flight',
    help: 'Key operations in flight over all connections',
    registers: [this.registry],
  })
  readonly sealed = new Gauge({
    name: 'outpost_keyserver_sealed',
    help: '1 while the keystore is sealed',
    registers: [this.registry],
  })
  readonly connections = new Gauge({
    name: 'outpost_keyserver_connections',
    help: 'Open keyless connections',
    registers: [this.registry],
  })
  readonly connectionsRefused = new Counter({
    name: 'outpost_keyserver_connections_refused_total',
    help: 'Connections refused after the handshake, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  // One slot per opcode/result pair: its histogram row, and its operation
  // count since the last flush into `operations`.
  readonly #slots: { opcode: string; result: string; row: number }[] = []
  readonly #slotIds = new Map<string, Map<string, number>>()
  #pending = new Float64Array(16)

  constructor() {
    // The registry formats any object with name, help, type and get().
    this.registry.registerMetric(this.latency as unknown as Metric)
    collectDefaultMetrics({ register: this.registry, prefix: 'outpost_keyserver_' })
  }

  /**
   * A number for the pair `opcode`/`result`, for {@link recordSlot}. Callers on
   * the hot path look it up once and keep it; a slot is never reused.
   */
  slot(opcode: string, result: string): number {
    let byResult = this.#slotIds.get(opcode)
    if (byResult === undefined) {
      byResult = new Map()
      this.#slotIds.set(opcode, byResult)
    }
    let id = byResult.get(result)
    if (id === undefined) {
      id = this.#slots.length
      this.#slots.push({ opcode, result, row: this.latency.row(opcode) })
      if (id >= this.#pending.length) {
        const grown = new Float64Array(this.#pending.length * 2)
        grown.set(this.#pending)
        this.#pending = grown
      }
      byResult.set(result, id)
    }
    return id
  }

  /** Counts one finished operation. */
  record(opcode: string, result: string, seconds: number): void {
    this.recordSlot(this.slot(opcode, result), seconds)
  }

  /** Counts one finished operation of a slot from {@link slot}. */
  recordSlot(slot: number, seconds: number): void {
    const s = this.#slots[slot]
    if (s === undefined) return
    this.#pending[slot] = (this.#pending[slot] as number) + 1
    this.latency.observe(s.row, seconds)
  }

  /** Adds the operations counted since the last flush to prom-client's counter. */
  flush(): void {
    const pending = this.#pending
    for (let i = 0; i < this.#slots.length; i++) {
      const n = pending[i] as number
      if (n === 0) continue
      pending[i] = 0
      const s = this.#slots[i] as { opcode: string; result: string }
      this.operations.labels(s.opcode, s.result).inc(n)
    }
  }

  /** The exposition text (flushes first). */
  metrics(): Promise<string> {
    this.flush()
    return this.registry.metrics()
  }
}

/** Serves `GET /metrics` on host:port; everything else is 404. */
export async function serveMetrics(
  metrics: KeyServerMetrics,
  host: string,
  port: number,
): Promise<{ server: Server; address: { host: string; port: number } }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    metrics.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text)
      },
      (e: unknown) => {
        res.writeHead(500).end(String(e))
      },
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const a = server.address() as AddressInfo
  return { server, address: { host: a.address, port: a.port } }
}
