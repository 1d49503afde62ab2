/** A control plane on loopback with helpers for JSON calls and mTLS node calls. */
import { request } from 'node:https'
import { Writable } from 'node:stream'
import { runCommand } from '@outpost/command'
import { ctlCommand } from '../src/cli.ts'
import { startControlPlane, type ControlPlane, type StartControlOptions } from '../src/server.ts'
import type { ControlConfigInput } from '../src/config.ts'
import { createCsr, exportKeyPem } from '../src/node-ca.ts'

export interface Res {
  readonly status: number
  readonly body: Record<string, unknown>
  readonly headers: Headers
}

export interface Harness {
  readonly cp: ControlPlane
  readonly token: string
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<Res>
  /** Registers and enrols a node; returns its certificate and key for mTLS. */
  enrol(id: string, region: string): Promise<NodeCreds>
  /** An mTLS call to the node API (query string kept; `body` sent as JSON). */
  node(creds: NodeCreds, method: string, path: string, body?: unknown): Promise<Res>
  close(): Promise<void>
}

export interface NodeCreds {
  readonly certPem: string
  readonly keyPem: Buffer
}

export async function startHarness(
  config: ControlConfigInput = {},
  options: StartControlOptions = {},
): Promise<Harness> {
  const cp = await startControlPlane(
    { listen: '127.0.0.1:0', nodeListen: '127.0.0.1:0', database: { path: ':memory:' }, ...config },
    { env: {}, log: () => undefined, ...options },
  )
  // Test-only: the token as a string so fetch can send it.
  const token = cp.adminToken?.toString('utf8') ?? ''
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    tok: string | null = token,
  ): Promise<Res> => {
    const res = await fetch(cp.url + path, {
      method,
      headers: {
        ...(tok !== null ? { authorization: `Bearer ${tok}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const text = await res.text()
    return {
      status: res.status,
      body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
      headers: res.headers,
    }
  }
  return {
    cp,
    token,
    call,
    async enrol(id, region) {
      const reg = await call('POST', '/v1/nodes', { id, region })
      if (reg.status !== 201) throw new Error(`register ${id}: ${JSON.stringify(reg.body)}`)
      const { csrPem, keys } = await createCsr(id)
      const en = await call(
        'POST',
        '/v1/enrol',
        { nodeId: id, token: reg.body['enrolToken'], csr: csrPem },
        null,
      )
      if (en.status !== 200) throw new Error(`enrol ${id}: ${JSON.stringify(en.body)}`)
      return {
        certPem: String(en.body['certificatePem']),
        keyPem: await exportKeyPem(keys.privateKey),
      }
    },
    node(creds, method, path, body) {
      const u = new URL(cp.nodeUrl + path)
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
      return new Promise((resolve, reject) => {
        const req = request(
          {
            host: u.hostname,
            port: u.port,
            path: u.pathname + u.search,
            method,
            cert: creds.certPem,
            key: creds.keyPem,
            ca: cp.nodeCaPem,
            servername: 'localhost',
            headers: data
              ? { 'content-type': 'application/json', 'content-length': data.length }
              : {},
          },
          (res) => {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8')
              resolve({
                status: res.statusCode ?? 0,
                body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
                headers: new Headers(),
              })
            })
          },
        )
        req.on('error', reject)
        req.end(data)
      })
    },
    close: () => cp.close(),
  }
}

/** Runs `outpost ctl ARGV` in process; returns its exit code and output. */
export async function ctl(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const bufs = { out: [] as Buffer[], err: [] as Buffer[] }
  const sink = (k: 'out' | 'err'): Writable =>
    new Writable({
      write(c: Buffer, _e, cb) {
        bufs[k].push(Buffer.from(c))
        cb()
      },
    })
  const code = await runCommand(ctlCommand, argv, { out: sink('out'), err: sink('err') })
  return {
    code,
    out: Buffer.concat(bufs.out).toString('utf8'),
    err: Buffer.concat(bufs.err).toString('utf8'),
  }
}
