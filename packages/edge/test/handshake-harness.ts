/**
 * Fixtures for handshake-flood tests and the benchmark: one key server
 * (@outpost/keyserver) and one TLS edge on loopback, a ClientHello recorder, a
 * replayer that sends one captured ClientHello over and over from a chosen
 * loopback address, and a TLS client that can resume.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { initKeystore, startKeyServer, type KeyServer } from '@outpost/keyserver'
import type { EdgeConfigInput } from '../src/config.ts'
import { startEdge, type RunningEdge } from '../src/index.ts'
import { startOrigin, type Origin } from './harness.ts'
import { keylessPki } from './keyless-pki.ts'

export interface KeylessWorld {
  readonly edge: RunningEdge
  readonly ks: KeyServer
  readonly origin: Origin
  readonly port: number
  readonly siteCaPem: string
  /** Successful signatures the key server has made so far (its own Prometheus counter). */
  ksSignatures(): Promise<number>
  /** The edge's shed counters by reason. */
  shed(): Promise<Record<string, number>>
  close(): Promise<void>
}

export async function startKeylessEdge(
  limits: EdgeConfigInput['limits'] = {},
): Promise<KeylessWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-hs-'))
  const {
    write: w,
    caFile,
    ksCert,
    edgeNode,
    siteCaPem,
    site,
    chainFile,
    ski,
  } = await keylessPki(dir, { nodeId: 'edge-flood-1', host: 'site.test' })
  const keystoreDir = join(dir, 'keystore')
  const shares = initKeystore(keystoreDir, { shares: 3, threshold: 2 })
  const ks = await startKeyServer(
    {
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      adminSocket: join(dir, 'ks.sock'),
      tls: {
        certFile: w('ks.pem', ksCert.certPem),
        keyFile: w('ks-key.pem', ksCert.keyPem),
        caFile,
      },
      keystore: { type: 'directory', dir: keystoreDir },
      audit: { file: join(dir, 'audit.jsonl') },
      log: { level: 'silent' },
    },
    { handleSighup: false, warn: () => undefined, env: {} },
  )
  ks.unseal(shares[0] ?? '')
  ks.unseal(shares[1] ?? '')
  ks.importKey(new Uint8Array(site.keyPem))
  site.keyPem.fill(0)
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'no-store' })
    res.end('ok')
  })
  const edge = await startEdge({
    listen: '127.0.0.1:0',
    sites: [
      {
        hosts: ['site.test'],
        origin: origin.url,
        certificates: [chainFile],
        key: { ski, pool: 'main' },
      },
    ],
    keyServers: {
      main: {
        servers: [`127.0.0.1:${ks.address.port}`],
        caFile,
        certFile: w('edge.pem', edgeNode.certPem),
        keyFile: w('edge-key.pem', edgeNode.keyPem),
      },
    },
    limits,
  })
  const port = Number(edge.address.slice(edge.address.lastIndexOf(':') + 1))
  const metricsUrl = `http://127.0.0.1:${ks.metricsAddress?.port ?? 0}/metrics`
  return {
    edge,
    ks,
    origin,
    port,
    siteCaPem,
    async ksSignatures() {
      const text = await (await fetch(metricsUrl)).text()
      let n = 0
      for (const m of text.matchAll(/^outpost_keyserver_operations_total\{([^}]*)\} (\d+)/gm)) {
        const labels = m[1] ?? ''
        if (
          /result="ok"/.test(labels) &&
          /opcode="[^"]*(SIGN|Sign|sign|ECDSA|Ecdsa|ecdsa)/.test(labels)
        )
          n += Number(m[2])
      }
      return n
    },
    async shed() {
      const out: Record<string, number> = {}
      const text = await edge.metrics.text()
      for (const m of text.matchAll(
        /^outpost_edge_tls_handshake_shed_total\{reason="([^"]+)"\} (\d+)/gm,
      ))
        out[m[1] ?? ''] = Number(m[2])
      return out
    },
    async close() {
      await edge.close()
      await ks.close()
      await origin.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Records the first TLS record (the ClientHello) Node's client sends for `servername`. */
export async function captureClientHello(servername: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => {
      let buf = Buffer.alloc(0)
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d])
        if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
          resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)))
          s.destroy()
          server.close()
        }
      })
    })
    server.listen(0, '127.0.0.1', () => {
      const c = tls.connect({
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        servername,
        minVersion: 'TLSv1.3',
        ALPNProtocols: ['http/1.1'],
      })
      c.on('error', () => undefined)
    })
    server.on('error', reject)
  })
}

export interface ReplayResult {
  /** Connections that sent the ClientHello. */
  readonly attempts: number
  /** Connections that got any answer (a ServerHello flight or an alert). */
  readonly answered: number
}

/**
 * Writes `hello` on fresh connections from `localAddress`, `concurrency` at a
 * time, each closed at the first answer: at most `maxConnections` and
 * `maxMs`. No client crypto at all, like a real replay flood.
 */
export async function replay(
  port: number,
  hello: Buffer,
  localAddress: string,
  o: { maxConnections: number; maxMs: number; concurrency: number },
): Promise<ReplayResult> {
  const t0 = performance.now()
  let attempts = 0
  let answered = 0
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s: Socket = connect({ port, host: '127.0.0.1', localAddress })
      let buf = Buffer.alloc(0)
      let encrypted = 0
      s.once('connect', () => {
        attempts++
        s.write(hello)
      })
      s.once('data', () => {
        answered++
      })
      // Stay until the server's second encrypted record ([EncryptedExtensions,
      // Certificate], then [CertificateVerify, Finished]): the signature is made.
      // A refused handshake ends with an alert and the server closes.
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d])
        while (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
          if (buf[0] === 23) encrypted++
          buf = buf.subarray(5 + buf.readUInt16BE(3))
        }
        if (encrypted >= 2) s.destroy()
      })
      s.on('error', () => undefined)
      s.once('close', () => {
        resolve()
      })
      s.setTimeout(5000, () => s.destroy())
    })
  const worker = async (): Promise<void> => {
    while (attempts < o.maxConnections && performance.now() - t0 < o.maxMs) await one()
  }
  await Promise.all(Array.from({ length: o.concurrency }, worker))
  return { attempts, answered }
}

export interface HandshakeOutcome {
  readonly ok: boolean
  readonly ms: number
  readonly resumed: boolean
  readonly session?: Buffer
  readonly error?: string
}

/** One HTTPS/1.1 GET over a fresh TLS connection from `localAddress`; never rejects. */
export function tlsGet(
  port: number,
  localAddress: string,
  o: { ca: string; session?: Buffer; servername?: string },
): Promise<HandshakeOutcome> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    let session: Buffer | undefined
    let body = ''
    const s = tls.connect({
      socket: connect({ port, host: '127.0.0.1', localAddress }),
      servername: o.servername ?? 'site.test',
      ca: o.ca,
      ALPNProtocols: ['http/1.1'],
      minVersion: 'TLSv1.3',
      ...(o.session !== undefined ? { session: o.session } : {}),
    })
    s.on('session', (b: Buffer) => (session ??= b))
    s.once('secureConnect', () => {
      s.write('GET / HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n')
    })
    s.setEncoding('utf8')
    s.on('data', (d: string) => (body += d))
    s.once('end', () => {
      const ok = body.startsWith('HTTP/1.1 200')
      resolve({
        ok,
        ms: performance.now() - t0,
        resumed: s.isSessionReused(),
        ...(session !== undefined ? { session } : {}),
        ...(ok ? {} : { error: `response: ${body.slice(0, 40)}` }),
      })
    })
    s.once('error', (e: Error) => {
      resolve({ ok: false, ms: performance.now() - t0, resumed: false, error: e.message })
    })
  })
}
