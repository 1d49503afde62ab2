/**
 * A small world for node-mode tests on 127.0.0.1: dev PKI, a key server holding the
 * zones' keys, a control plane (node CA = the dev CA; revocations pushed to the key
 * server), a demo origin, and `outpost edge enrol|run|status` as real processes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import { issueServerCert, writeDevPki, writeServerCert, type DevPki } from '@outpost/pki'
import { initKeystore, startKeyServer, type KeyServer } from '@outpost/keyserver'
import { startControlPlane, type ControlPlane } from '@outpost/control'

export const OUTPOST_BIN = resolve(import.meta.dirname, '../../cli/bin/outpost.js')

export interface World {
  readonly dir: string
  readonly pki: DevPki
  readonly ks: KeyServer
  readonly cp: ControlPlane
  readonly token: string
  readonly origin: Server
  readonly originUrl: string
  api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>
  /** A zone with a fresh certificate whose key is imported into the key server (`via`: CLI by default). */
  zone(id: string, host: string, via?: 'cli' | 'api'): Promise<void>
  /** Registers a node and enrols it with `outpost edge enrol`; returns its directory. */
  enrol(id: string, region: string): Promise<string>
  close(): Promise<void>
}

export interface CliResult {
  readonly code: number
  readonly out: string
  readonly err: string
}

export function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, [OUTPOST_BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    p.stdout.on('data', (c: Buffer) => (out += c.toString()))
    p.stderr.on('data', (c: Buffer) => (err += c.toString()))
    p.on('error', reject)
    p.on('close', (code) => {
      resolvePromise({ code: code ?? -1, out, err })
    })
  })
}

/** A running `outpost edge run --dir DIR` with its stdout lines. */
export class NodeProcess {
  readonly proc: ChildProcess
  readonly lines: string[] = []
  stderr = ''
  readonly exited: Promise<number>
  readonly #waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = []

  /** `wrap`: a command prefix, e.g. `['ip', 'netns', 'exec', NS]` (it must exec the node). */
  constructor(
    dir: string,
    extraArgs: readonly string[] = [],
    env: NodeJS.ProcessEnv = {},
    wrap: readonly string[] = [],
  ) {
    const [cmd = process.execPath, ...args] = [
      ...wrap,
      process.execPath,
      OUTPOST_BIN,
      'edge',
      'run',
      '--dir',
      dir,
      '--listen',
      '127.0.0.1:0',
      ...extraArgs,
    ]
    this.proc = spawn(cmd, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let buf = ''
    this.proc.stdout?.on('data', (c: Buffer) => {
      buf += c.toString()
      let i
      while ((i = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        this.lines.push(line)
        for (const w of [...this.#waiters]) {
          const m = line.match(w.re)
          if (m) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1)
            w.resolve(m)
          }
        }
      }
    })
    this.proc.stderr?.on('data', (c: Buffer) => (this.stderr += c.toString()))
    this.exited = new Promise((r) =>
      this.proc.on('exit', (code) => {
        r(code ?? -1)
      }),
    )
  }

  /** Resolves with the first stdout line (past or future) matching `re`. */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    for (const l of this.lines) {
      const m = l.match(re)
      if (m) return Promise.resolve(m)
    }
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out waiting for ${re}; stdout: ${this.lines.join(' | ')}; stderr: ${this.stderr.slice(-2000)}`,
          ),
        )
      }, timeoutMs)
      this.#waiters.push({
        re,
        resolve: (m) => {
          clearTimeout(timer)
          resolvePromise(m)
        },
      })
    })
  }

  /** The visitor address once serving. */
  async address(timeoutMs = 20_000): Promise<{ host: string; port: number }> {
    const m = await this.waitFor(/^edge listening on (.+):(\d+) /, timeoutMs)
    return { host: m[1] ?? '', port: Number(m[2]) }
  }

  async stop(): Promise<number> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM')
    return this.exited
  }
}

/** One HTTPS request over a fresh TLS connection (or `socket`), HTTP/1.1. */
export async function httpsGet(
  addr: { host: string; port: number },
  host: string,
  ca: string,
  path = '/',
): Promise<{ status: number; body: string }> {
  const socket = await tlsConnect(addr, host, ca)
  try {
    return await request(socket, host, path)
  } finally {
    socket.destroy()
  }
}

const tickets = new WeakMap<TLSSocket, Promise<Buffer>>()

/** The first session ticket of a socket made by tlsConnect. */
export function ticketOf(s: TLSSocket): Promise<Buffer> {
  return tickets.get(s) ?? Promise.reject(new Error('not from tlsConnect'))
}

export function tlsConnect(
  addr: { host: string; port: number },
  servername: string,
  ca: string,
  session?: Buffer,
): Promise<TLSSocket> {
  return new Promise((resolvePromise, reject) => {
    const s = connect({
      host: addr.host,
      port: addr.port,
      servername,
      ca,
      ALPNProtocols: ['http/1.1'],
      ...(session !== undefined ? { session } : {}),
    })
    // TLS 1.3 tickets can arrive with the handshake's last flight: keep the first one.
    const ticket = new Promise<Buffer>((r) => s.once('session', r))
    ticket.catch(() => undefined)
    tickets.set(s, ticket)
    const timer = setTimeout(() => {
      s.destroy(new Error('TLS handshake timed out'))
    }, 5000)
    s.once('secureConnect', () => {
      clearTimeout(timer)
      resolvePromise(s)
    })
    s.once('close', () => {
      clearTimeout(timer)
    })
    s.once('error', reject)
  })
}

/** Writes one HTTP/1.1 request on `socket` (kept alive) and reads one response. */
export function request(
  socket: TLSSocket,
  host: string,
  path = '/',
): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    let buf = ''
    const onData = (c: Buffer): void => {
      buf += c.toString('latin1')
      const head = buf.indexOf('\r\n\r\n')
      if (head === -1) return
      const headers = buf.slice(0, head)
      const rest = buf.slice(head + 4)
      let body: string | undefined
      const len = Number(/content-length: *(\d+)/i.exec(headers)?.[1] ?? '-1')
      if (len >= 0 && rest.length >= len) body = rest.slice(0, len)
      else if (/transfer-encoding: *chunked/i.test(headers) && rest.endsWith('0\r\n\r\n')) {
        body = ''
        let at = 0
        for (;;) {
          const eol = rest.indexOf('\r\n', at)
          const size = parseInt(rest.slice(at, eol), 16)
          if (!(size > 0)) break
          body += rest.slice(eol + 2, eol + 2 + size)
          at = eol + 2 + size + 2
        }
      }
      if (body !== undefined) {
        socket.off('data', onData)
        socket.off('error', reject)
        socket.off('close', onClose)
        resolvePromise({ status: Number(buf.slice(9, 12)), body })
      }
    }
    const onClose = (): void => {
      reject(new Error('connection closed before the response'))
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.once('close', onClose)
    socket.write(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n\r\n`)
  })
}

export async function startWorld(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-node-'))
  const pki = await writeDevPki(join(dir, 'pki'))
  const ksCert = await writeServerCert(pki, 'keyserver', {
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  })
  const keysDir = join(dir, 'keys')
  initKeystore(keysDir, { shares: 1, threshold: 1, keepSharesForDev: true })
  const ks = await startKeyServer(
    {
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      adminSocket: join(dir, 'ks-admin.sock'),
      tls: { ...ksCert, caFile: pki.caFile },
      keystore: { type: 'directory', dir: keysDir },
      audit: { file: join(dir, 'ks-audit.jsonl') },
      dev: { autoUnseal: true },
      log: { level: 'silent' },
    },
    { env: {}, handleSighup: false, warn: () => undefined },
  )
  const cp = await startControlPlane(
    {
      listen: '127.0.0.1:0',
      nodeListen: '127.0.0.1:0',
      database: { path: ':memory:' },
      nodeCa: { certFile: pki.caFile, keyFile: join(pki.dir, 'ca-key.pem') },
      keyServers: [{ adminSocket: ks.adminSocket }],
    },
    { env: {}, log: () => undefined },
  )
  const token = cp.adminToken?.toString('utf8') ?? '' // test-only: fetch needs a string
  const origin = createServer((req, res) => {
    const body = `origin says hi to ${req.headers.host ?? ''} ${req.url ?? ''}`
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(body),
      'cache-control': req.url?.startsWith('/cached') === true ? 'max-age=600' : 'no-store',
    })
    res.end(body)
  })
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
  const api = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Record<string, unknown>> => {
    const res = await fetch(cp.url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const json = (await res.json()) as Record<string, unknown>
    if (res.status >= 300)
      throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }
  const ksAddr = `${ks.address.host}:${ks.address.port}`
  const ctlEnv = { OUTPOST_CONTROL_URL: cp.url, OUTPOST_CONTROL_TOKEN: token }
  return {
    dir,
    pki,
    ks,
    cp,
    token,
    origin,
    originUrl,
    api,
    async zone(id, host, via = 'cli') {
      const site = await issueServerCert({
        ca: pki.ca,
        commonName: host,
        dnsNames: [host],
        ipAddresses: [],
      })
      ks.importKey(site.keyPem, {})
      site.keyPem.fill(0)
      if (via === 'api') {
        await api('POST', '/v1/zones', {
          id,
          orgId: 'acme',
          hostnames: [host],
          origin: originUrl,
          certificateChain: site.certPem + pki.ca.certPem,
        })
        return
      }
      // Through the CLI, as an operator would.
      const r = await cli(
        [
          'ctl',
          'zones',
          'create',
          `id=${id}`,
          'orgId=acme',
          `hostnames=["${host}"]`,
          `origin=${originUrl}`,
          `certificateChain=${site.certPem}${pki.ca.certPem}`,
        ],
        ctlEnv,
      )
      if (r.code !== 0) throw new Error(`ctl zones create: ${r.out} ${r.err}`)
    },
    async enrol(id, region) {
      const reg = await api('POST', '/v1/nodes', { id, region })
      const nodeDir = join(dir, 'nodes', id)
      const r = await cli([
        'edge',
        'enrol',
        '--control',
        cp.url,
        '--node-id',
        id,
        '--token',
        String(reg['enrolToken']),
        '--dir',
        nodeDir,
        '--key-server',
        ksAddr,
        '--key-server-ca',
        pki.caFile,
      ])
      if (r.code !== 0) throw new Error(`edge enrol: ${r.out} ${r.err}`)
      return nodeDir
    },
    async close() {
      await cp.close()
      await ks.close()
      origin.closeAllConnections()
      await new Promise((r) => origin.close(r))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
