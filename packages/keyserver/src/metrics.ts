/**
 * Prometheus metrics (prom-client), on their own registry so several servers
 * can run in one process (tests, `outpost up`).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Samples held between scrapes before they are moved into prom-client. */
const SAMPLE_BUFFER = 65_536

export class KeyServerMetrics {
  readonly registry = new Registry()
  readonly operations = new Counter({
    name: 'outpost_keyserver_operations_total',
    help: 'Keyless operations by opcode and result (ok or the error code name)',
    labelNames: ['opcode', 'result'] as const,
    registers: [this.registry],
  })
  readonly latency = new Histogram({
    name: 'outpost_keyserver_operation_duration_seconds',
    help: 'Time from request to answer inside the key server, by opcode',
    labelNames: ['opcode'] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
    registers: [this.registry],
  })
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
  // Samples recorded since the last scrape, replayed into prom-client at
  // scrape time (or when the buffer is full): per request, two typed-array
  // stores (a slot number for the opcode/result pair and the seconds) instead
  // of a labelled counter and histogram update, and no allocation.
  readonly #slots: {
    opcode: string
    result: string
    inc: () => void
    observe: (v: number) => void
  }[] = []
  readonly #slotIds = new Map<string, Map<string, number>>()
  #pendingSlot = new Uint32Array(SAMPLE_BUFFER)
  #pendingSeconds = new Float64Array(SAMPLE_BUFFER)
  #pending = 0

  constructor() {
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
      const c = this.operations.labels(opcode, result)
      const h = this.latency.labels(opcode)
      this.#slots.push({
        opcode,
        result,
        inc: () => {
          c.inc()
        },
        observe: (v) => {
          h.observe(v)
        },
      })
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
    const i = this.#pending
    this.#pendingSlot[i] = slot
    this.#pendingSeconds[i] = seconds
    this.#pending = i + 1
    if (i + 1 === SAMPLE_BUFFER) this.flush()
  }

  /** Moves recorded samples into the prom-client metrics. */
  flush(): void {
    const n = this.#pending
    this.#pending = 0
    for (let i = 0; i < n; i++) {
      const s = this.#slots[this.#pendingSlot[i] as number]
      if (s === undefined) continue
      s.inc()
      s.observe(this.#pendingSeconds[i] as number)
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
