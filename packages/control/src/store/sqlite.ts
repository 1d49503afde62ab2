/**
 * node:sqlite driver (undici's sqlite-cache-store shape: WAL, statements
 * prepared once and kept).
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { Queue, type Param, type Row, type SqlDriver, type SqlExecutor } from './driver.ts'

export function openSqlite(path: string): SqlDriver {
  const db = new DatabaseSync(path)
  if (path !== ':memory:') db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000')
  const statements = new Map<string, StatementSync>()
  const prepared = (sql: string): StatementSync => {
    let s = statements.get(sql)
    if (s === undefined) {
      s = db.prepare(sql)
      statements.set(sql, s)
    }
    return s
  }
  const queue = new Queue()
  const exec: SqlExecutor = {
    all(sql, params: readonly Param[] = []) {
      return Promise.resolve(prepared(sql).all(...params) as Row[])
    },
    run(sql, params: readonly Param[] = []) {
      return Promise.resolve(Number(prepared(sql).run(...params).changes))
    },
  }
  return {
    dialect: 'sqlite',
    ...exec,
    exec(sql) {
      db.exec(sql)
      return Promise.resolve()
    },
    transaction(fn) {
      return queue.run(async () => {
        db.exec('BEGIN IMMEDIATE')
        try {
          const out = await fn(exec)
          db.exec('COMMIT')
          return out
        } catch (e) {
          db.exec('ROLLBACK')
          throw e
        }
      })
    },
    close() {
      return queue.run(() => {
        statements.clear()
        db.close()
        return Promise.resolve()
      })
    },
  }
}
