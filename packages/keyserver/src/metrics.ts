/**
 * Prometheus metrics (prom-client), on their own registry so several servers
 * can run in one process (tests, `outpost up`).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

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
  readonly #opChildren = new Map<string, { inc: () => void }>()
  readonly #latChildren = new Map<string, { observe: (v: number) => void }>()
  // Samples recorded since the last scrape, replayed into prom-client at
  // scrape time (or when many pile up): an array push per request instead
  // of a labelled counter and histogram update.
  #pendingKeys: string[] = []
  #pendingSeconds: number[] = []

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'outpost_keyserver_' })
  }

  /** Counts one finished operation. */
  record(opcode: string, result: string, seconds: number): void {
    this.#pendingKeys.push(`${opcode}\0${result}`)
    this.#pendingSeconds.push(seconds)
    if (this.#pendingKeys.length >= 65_536) this.flush()
  }

  /** Moves recorded samples into the prom-client metrics. */
  flush(): void {
    const keys = this.#pendingKeys
    const secs = this.#pendingSeconds
    this.#pendingKeys = []
    this.#pendingSeconds = []
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string
      let c = this.#opChildren.get(key)
      const opcode = key.slice(0, key.indexOf('\0'))
      if (c === undefined) {
        c = this.operations.labels(opcode, key.slice(opcode.length + 1))
        this.#opChildren.set(key, c)
      }
      c.inc()
      let h = this.#latChildren.get(opcode)
      if (h === undefined) {
        h = this.latency.labels(opcode)
        this.#latChildren.set(opcode, h)
      }
      h.observe(secs[i] as number)
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
