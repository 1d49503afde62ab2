/**
 * Helpers for the protection and programme suites: an mTLS node call that
 * keeps the query string and sends a JSON body, and the two storage backends
 * (node:sqlite always; PostgreSQL when its binaries exist, one database per test).
 */
import { request } from 'node:https'
import type { TestContext } from 'node:test'
import type { Harness, NodeCreds, Res } from './harness.ts'
import { postgresMissing, startPostgres, type PgServer } from './postgres-server.ts'
import { Store } from '../src/store/store.ts'

export function nodeCall(
  h: Harness,
  creds: NodeCreds,
  method: string,
  pathAndQuery: string,
  body?: unknown,
): Promise<Res> {
  const u = new URL(h.cp.nodeUrl + pathAndQuery)
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
        ca: h.cp.nodeCaPem,
        servername: 'localhost',
        headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
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
}

export interface Backend {
  readonly name: string
  readonly skip: string | undefined
  /** The `database` config for a fresh, empty database. */
  database(t: TestContext): Promise<{ path: string } | { url: string }>
}

let pg: PgServer | undefined
let n = 0
const missing = postgresMissing()

export const BACKENDS: readonly Backend[] = [
  { name: 'SQLite', skip: undefined, database: () => Promise.resolve({ path: ':memory:' }) },
  {
    name: 'PostgreSQL',
    skip: missing,
    async database() {
      pg ??= await startPostgres()
      const admin = await Store.open({ url: pg.url })
      const name = `p${++n}_${process.pid}`
      await admin.driver.exec(`CREATE DATABASE ${name}`)
      await admin.close()
      return { url: pg.url.replace('/postgres?', `/${name}?`) }
    },
  },
]

/** Stops the PostgreSQL server if a test started one (call from a last test / after hook). */
export async function stopPostgres(): Promise<void> {
  await pg?.stop()
  pg = undefined
}
