/**
 * Helpers for the protection and programme suites: an mTLS node call that
 * keeps the query string and sends a JSON body, and the two storage backends
 * (node:sqlite always; PostgreSQL when its binaries exist, one database per test).
 */
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
  return h.node(creds, method, pathAndQuery, body)
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
