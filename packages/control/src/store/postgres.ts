/** PostgreSQL driver over a `pg` pool. */
import pg from 'pg'
import { Queue, type Param, type Row, type SqlDriver, type SqlExecutor } from './driver.ts'

/** Any fixed 64-bit number: the advisory lock that serialises writers. */
const WRITE_LOCK = 0x6f75_7470_6f73

/** `?` placeholders → `$1, $2, ...` (our SQL has no `?` inside literals). */
export function numberPlaceholders(sql: string): string {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

function executor(q: (text: string, values: Param[]) => Promise<pg.QueryResult>): SqlExecutor {
  return {
    async all(sql, params = []) {
      return (await q(numberPlaceholders(sql), [...params])).rows as Row[]
    },
    async run(sql, params = []) {
      return (await q(numberPlaceholders(sql), [...params])).rowCount ?? 0
    },
  }
}

export function openPostgres(url: string): SqlDriver {
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  // An idle client dropped by the server (restart, failover) must not crash
  // the process; the pool replaces it on the next query.
  pool.on('error', () => undefined)
  const queue = new Queue()
  return {
    dialect: 'postgres',
    ...executor((text, values) => pool.query(text, values)),
    async exec(sql) {
      await pool.query(sql)
    },
    transaction(fn) {
      return queue.run(async () => {
        const client = await pool.connect()
        try {
          await client.query('BEGIN')
          await client.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK])
          const out = await fn(executor((text, values) => client.query(text, values)))
          await client.query('COMMIT')
          return out
        } catch (e) {
          await client.query('ROLLBACK')
          throw e
        } finally {
          client.release()
        }
      })
    },
    close() {
      return pool.end()
    },
  }
}
