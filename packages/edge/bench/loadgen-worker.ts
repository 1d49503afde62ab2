/**
 * Load generator thread for `npm run bench:edge` (autocannon is not installed):
 * - keepalive: `connections` keep-alive connections (undici Pool), each issuing
 *   requests back to back for `durationMs`;
 * - handshake: `connections` loops that each open a fresh TLS connection (no
 *   session reuse), send one request with Connection: close and read to the end.
 * Posts { requests, errors, seconds, p50, p99 } (latencies in ms).
 */
import { parentPort, workerData } from 'node:worker_threads'
import tls from 'node:tls'
import { Pool } from 'undici'

export interface LoadSpec {
  readonly mode: 'keepalive' | 'handshake'
  /** http(s)://host:port */
  readonly origin: string
  readonly host: string
  readonly paths: readonly string[]
  readonly connections: number
  readonly durationMs: number
  readonly ca?: string
  readonly servername?: string
}

export interface LoadResult {
  readonly requests: number
  readonly errors: number
  readonly seconds: number
  readonly p50: number
  readonly p99: number
  readonly firstError?: string
}

const spec = workerData as LoadSpec
const lat: number[] = []
let requests = 0
let errors = 0
let firstError: string | undefined
const t0 = performance.now()
const until = t0 + spec.durationMs

function fail(e: unknown): void {
  errors++
  firstError ??= (e as Error).message
}

async function keepalive(): Promise<void> {
  const pool = new Pool(spec.origin, {
    connections: spec.connections,
    pipelining: 1,
    ...(spec.ca !== undefined
      ? { connect: { ca: spec.ca, servername: spec.servername ?? spec.host } }
      : {}),
  })
  let n = 0
  const loop = async (): Promise<void> => {
    while (performance.now() < until) {
      const path = spec.paths[n++ % spec.paths.length] ?? '/'
      const s = performance.now()
      try {
        const r = await pool.request({ path, method: 'GET', headers: { host: spec.host } })
        await r.body.dump({ limit: Infinity })
        if (r.statusCode !== 200) fail(new Error(`status ${r.statusCode}`))
        else {
          requests++
          lat.push(performance.now() - s)
        }
      } catch (e) {
        fail(e)
      }
    }
  }
  await Promise.all(Array.from({ length: spec.connections }, loop))
  await pool.close()
}

function oneHandshake(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host,
      port,
      servername: spec.servername ?? spec.host,
      ...(spec.ca !== undefined ? { ca: spec.ca } : {}),
      ALPNProtocols: ['http/1.1'],
      minVersion: 'TLSv1.3',
    })
    let got = ''
    s.setEncoding('latin1')
    s.once('secureConnect', () => {
      s.write(
        `GET ${spec.paths[0] ?? '/'} HTTP/1.1\r\nHost: ${spec.host}\r\nConnection: close\r\n\r\n`,
      )
    })
    s.on('data', (d: string) => {
      if (got.length < 16) got += d
    })
    s.once('end', () => {
      s.destroy()
      if (got.startsWith('HTTP/1.1 200')) resolve()
      else reject(new Error(`bad answer ${JSON.stringify(got.slice(0, 20))}`))
    })
    s.once('error', reject)
  })
}

async function handshakes(): Promise<void> {
  const u = new URL(spec.origin)
  const port = Number(u.port)
  const loop = async (): Promise<void> => {
    while (performance.now() < until) {
      const s = performance.now()
      try {
        await oneHandshake(port, u.hostname)
        requests++
        lat.push(performance.now() - s)
      } catch (e) {
        fail(e)
      }
    }
  }
  await Promise.all(Array.from({ length: spec.connections }, loop))
}

await (spec.mode === 'keepalive' ? keepalive() : handshakes())
const seconds = (performance.now() - t0) / 1000
lat.sort((a, b) => a - b)
const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0
const result: LoadResult = {
  requests,
  errors,
  seconds,
  p50: q(0.5),
  p99: q(0.99),
  ...(firstError !== undefined ? { firstError } : {}),
}
parentPort?.postMessage(result)
