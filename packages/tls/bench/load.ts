/**
 * Load generators for the TLS benchmark. The same generator always drives both servers in
 * a comparison: h2load for full handshakes (tls-testing.md §5), and Node `tls.connect`
 * clients for resumption, bulk transfer and idle connections (and for full handshakes
 * when h2load is missing).
 */
import tls from 'node:tls'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'

export interface Target {
  readonly host: string
  readonly port: number
}

const request = Buffer.from('GET / HTTP/1.1\r\nHost: test.example\r\nConnection: close\r\n\r\n')

/**
 * Every client offers only this suite, so both servers run the same AEAD (OpenSSL's server
 * order prefers AES-256-GCM, ours follows the client's order).
 */
export const BENCH_SUITE = 'TLS_AES_128_GCM_SHA256'
const clientTls = {
  servername: 'test.example',
  rejectUnauthorized: false,
  minVersion: 'TLSv1.3',
  ciphers: BENCH_SUITE,
} as const

// ---------------------------------------------------------------- h2load

export interface H2loadResult {
  readonly perSec: number
  readonly succeeded: number
  readonly failed: number
  readonly seconds: number
  /** e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519 253 bits" */
  readonly negotiated: string
}

/** Parses h2load's report. Undefined when the "finished in" or "requests:" line is missing. */
export function parseH2load(out: string): H2loadResult | undefined {
  const fin = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out)
  const req =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out)
  if (fin === null || req === null) return undefined
  const secs = Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1)
  const proto = /TLS Protocol: (\S+)/.exec(out)?.[1] ?? '?'
  const cipher = /Cipher: (\S+)/.exec(out)?.[1] ?? '?'
  const kex = /Server Temp Key: ([^\n]+)/.exec(out)?.[1]?.trim() ?? '?'
  return {
    perSec: Number(fin[3]),
    succeeded: Number(req[4]),
    failed: Number(req[5]),
    seconds: secs,
    negotiated: `${proto} ${cipher} ${kex}`,
  }
}

/**
 * `h2load --h1 -n N -c C -m 1`: against a server that closes after each response, every
 * request is a new connection with a full handshake, so req/s = full handshakes/s.
 */
export function h2load(
  bin: string,
  t: Target,
  requests: number,
  clients = 30,
): Promise<H2loadResult> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      [
        '--h1',
        '-n',
        String(requests),
        '-c',
        String(clients),
        '-m',
        '1',
        '-t',
        '1',
        `--tls13-ciphers=${BENCH_SUITE}`,
        `https://${t.host}:${t.port}/`,
      ],
      { timeout: 120_000, maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const r = parseH2load(stdout)
        if (r === undefined) {
          reject(new Error(`Cannot read h2load output: ${err?.message ?? ''}\n${stdout}${stderr}`))
          return
        }
        resolve(r)
      },
    )
  })
}

// --------------------------------------------------------- Node clients

export interface RateResult {
  readonly perSec: number
  readonly completed: number
  readonly resumed: number
  readonly errors: number
  readonly seconds: number
}

interface OneConn {
  readonly resumed: boolean
  readonly session: Buffer | undefined
}

/** One connection: handshake (resuming `session` if given), GET, read to close. */
function oneConnection(t: Target, session: Buffer | undefined): Promise<OneConn> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined
    let resumed = false
    const s = tls.connect({
      host: t.host,
      port: t.port,
      ...clientTls,
      ...(session !== undefined ? { session } : {}),
    })
    s.on('session', (b: Buffer) => {
      latest = b
    })
    s.on('secureConnect', () => {
      resumed = s.isSessionReused()
      s.write(request)
    })
    s.on('data', () => {
      // the response; the server closes after it
    })
    s.on('error', reject)
    s.on('close', () => {
      resolve({ resumed, session: latest })
    })
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')))
  })
}

/**
 * Connections per second for `ms` milliseconds with `concurrency` loops. With
 * `resume`, each loop resumes with the newest ticket it received (tickets may be
 * single-use), after one full handshake to get the first.
 */
export async function connectionRate(
  t: Target,
  o: { ms: number; concurrency: number; resume: boolean },
): Promise<RateResult> {
  let completed = 0
  let resumed = 0
  let errors = 0
  const sessions: (Buffer | undefined)[] = []
  if (o.resume) {
    for (let i = 0; i < o.concurrency; i++)
      sessions.push((await oneConnection(t, undefined)).session)
  }
  const start = performance.now()
  const end = start + o.ms
  const loop = async (i: number): Promise<void> => {
    while (performance.now() < end) {
      try {
        const r = await oneConnection(t, o.resume ? sessions[i] : undefined)
        completed++
        if (r.resumed) resumed++
        if (o.resume && r.session !== undefined) sessions[i] = r.session
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, (_, i) => loop(i)))
  const seconds = (performance.now() - start) / 1000
  return { perSec: completed / seconds, completed, resumed, errors, seconds }
}

export interface BulkResult {
  readonly mibPerSec: number
  readonly bytes: number
  readonly seconds: number
}

/**
 * Bulk throughput over ONE connection to an echo server: writes `bytes` of random data in
 * 64 KiB chunks (respecting back-pressure) and reads them all back; MiB/s of payload.
 */
export function bulkEcho(t: Target, bytes: number): Promise<BulkResult> {
  const chunk = randomBytes(64 * 1024)
  return new Promise((resolve, reject) => {
    let received = 0
    let sent = 0
    let start = 0
    const s = tls.connect({
      host: t.host,
      port: t.port,
      ...clientTls,
    })
    const pump = (): void => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent)
        sent += n
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          s.once('drain', pump)
          return
        }
      }
    }
    s.on('secureConnect', () => {
      start = performance.now()
      pump()
    })
    s.on('data', (d: Buffer) => {
      received += d.length
      if (received >= bytes) {
        const seconds = (performance.now() - start) / 1000
        s.destroy()
        resolve({ mibPerSec: bytes / 1048576 / seconds, bytes, seconds })
      }
    })
    s.on('error', reject)
    s.on('close', () => {
      if (received < bytes) reject(new Error(`Connection closed after ${received} of ${bytes}`))
    })
  })
}

/** Opens `count` TLS connections (handshake done) and keeps them idle. */
export async function openIdle(
  t: Target,
  count: number,
  batch = 50,
): Promise<{ sockets: tls.TLSSocket[]; errors: number }> {
  const sockets: tls.TLSSocket[] = []
  let errors = 0
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i)
    const opened = await Promise.allSettled(
      Array.from(
        { length: n },
        () =>
          new Promise<tls.TLSSocket>((resolve, reject) => {
            const s = tls.connect({
              host: t.host,
              port: t.port,
              ...clientTls,
            })
            s.once('secureConnect', () => {
              resolve(s)
            })
            s.once('error', reject)
          }),
      ),
    )
    for (const r of opened) {
      if (r.status === 'fulfilled') {
        r.value.on('error', () => {
          // the server may drop idle connections; counted as closed below
        })
        sockets.push(r.value)
      } else errors++
    }
  }
  return { sockets, errors }
}
