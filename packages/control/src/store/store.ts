/**
 * The control plane's storage: tokens, JSON records by kind, the hash-chained
 * audit log and counters, over either SQL driver. Every change to a record goes
 * through `mutate`, which in ONE transaction reads the record, writes the new
 * one, appends an audit entry (who, what, before/after hash) and bumps the
 * config-bundle version, so no change can escape the audit log.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ctEqual } from '@outpost/wire'
import type { SqlDriver, SqlExecutor } from './driver.ts'
import { openSqlite } from './sqlite.ts'
import { openPostgres } from './postgres.ts'

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations')
export const GENESIS = '0'.repeat(64)

export interface TokenRow {
  readonly id: string
  readonly name: string
  readonly hash: string
  readonly scopes: readonly string[]
  readonly createdAt: string
  readonly revokedAt: string | null
}

export interface AuditEntry {
  readonly seq: number
  readonly at: string
  readonly actor: string
  readonly action: string
  readonly kind: string
  readonly target: string
  readonly beforeHash: string | null
  readonly afterHash: string | null
  readonly prevHash: string
  readonly hash: string
}

export interface AuditVerdict {
  readonly ok: boolean
  readonly count: number
  /** The first entry whose hash or link does not verify. */
  readonly brokenAt?: number
}

/** JSON with sorted object keys, so equal values hash equally. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const { prevHash, ...rest } = e
  return sha256Hex(`${prevHash}\n${canonicalJson(rest)}`)
}

function optStr(v: unknown): string | null {
  return typeof v === 'string' ? v : null
}

function toEntry(r: Record<string, unknown>): AuditEntry {
  return {
    seq: Number(r['seq']),
    at: String(r['at']),
    actor: String(r['actor']),
    action: String(r['action']),
    kind: String(r['kind']),
    target: String(r['target']),
    beforeHash: optStr(r['before_hash']),
    afterHash: optStr(r['after_hash']),
    prevHash: String(r['prev_hash']),
    hash: String(r['hash']),
  }
}

export interface StoreOptions {
  /** node:sqlite file or ':memory:' (default ':memory:'). */
  readonly path?: string
  /** PostgreSQL connection string; wins over `path`. */
  readonly url?: string
  readonly now?: () => Date
}

export interface Mutation<T> {
  readonly actor: string
  readonly action: string
  readonly kind: string
  readonly id: string
  /** Returns the new record, or undefined to delete it. Throw to abort. */
  readonly apply: (before: T | undefined) => T | undefined | Promise<T | undefined>
}

export class Store {
  readonly driver: SqlDriver
  readonly #now: () => Date

  constructor(driver: SqlDriver, now: () => Date = () => new Date()) {
    this.driver = driver
    this.#now = now
  }

  static async open(o: StoreOptions = {}): Promise<Store> {
    const driver = o.url !== undefined ? openPostgres(o.url) : openSqlite(o.path ?? ':memory:')
    const store = new Store(driver, o.now)
    try {
      await store.migrate()
    } catch (e) {
      await driver.close()
      throw e
    }
    return store
  }

  /** Applies `migrations/NNN-*.sql` not yet applied, each in its own transaction. */
  async migrate(): Promise<number> {
    await this.driver.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)',
    )
    const files = readdirSync(MIGRATIONS_DIR)
      .filter((f) => /^\d{3}-.+\.sql$/.test(f))
      .sort()
    let applied = 0
    for (const f of files) {
      const version = Number(f.slice(0, 3))
      await this.driver.transaction(async (tx) => {
        const done = await tx.all('SELECT version FROM schema_migrations WHERE version = ?', [
          version,
        ])
        if (done.length > 0) return
        for (const stmt of readFileSync(join(MIGRATIONS_DIR, f), 'utf8')
          .replace(/--.*$/gm, '')
          .split(';')
          .map((s) => s.trim())
          .filter((s) => s !== '')) {
          await tx.run(stmt)
        }
        await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [
          version,
          this.#now().toISOString(),
        ])
        applied++
      })
    }
    return applied
  }

  close(): Promise<void> {
    return this.driver.close()
  }

  // ---- records ----

  async get<T>(kind: string, id: string): Promise<T | undefined> {
    return this.#get<T>(this.driver, kind, id)
  }

  async #get<T>(x: SqlExecutor, kind: string, id: string): Promise<T | undefined> {
    const rows = await x.all('SELECT data FROM records WHERE kind = ? AND id = ?', [kind, id])
    const row = rows[0]
    return row === undefined ? undefined : (JSON.parse(String(row['data'])) as T)
  }

  async list<T>(kind: string): Promise<T[]> {
    const rows = await this.driver.all('SELECT data FROM records WHERE kind = ? ORDER BY id', [
      kind,
    ])
    return rows.map((r) => JSON.parse(String(r['data'])) as T)
  }

  /** Changes one record and audits it, atomically. Returns the new record. */
  async mutate<T>(m: Mutation<T>): Promise<T | undefined> {
    return this.driver.transaction(async (tx) => {
      const before = await this.#get<T>(tx, m.kind, m.id)
      const after = await m.apply(before)
      const at = this.#now().toISOString()
      if (after === undefined) {
        await tx.run('DELETE FROM records WHERE kind = ? AND id = ?', [m.kind, m.id])
      } else if (before === undefined) {
        await tx.run('INSERT INTO records (kind, id, data, updated_at) VALUES (?, ?, ?, ?)', [
          m.kind,
          m.id,
          JSON.stringify(after),
          at,
        ])
      } else {
        await tx.run('UPDATE records SET data = ?, updated_at = ? WHERE kind = ? AND id = ?', [
          JSON.stringify(after),
          at,
          m.kind,
          m.id,
        ])
      }
      await this.#appendAudit(tx, {
        actor: m.actor,
        action: m.action,
        kind: m.kind,
        target: m.id,
        before,
        after,
      })
      await this.#bump(tx, 'bundle_version')
      return after
    })
  }

  // ---- tokens ----

  async createToken(actor: string, t: Omit<TokenRow, 'createdAt' | 'revokedAt'>): Promise<void> {
    await this.driver.transaction(async (tx) => {
      await tx.run(
        'INSERT INTO tokens (id, name, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)',
        [t.id, t.name, t.hash, JSON.stringify(t.scopes), this.#now().toISOString()],
      )
      await this.#appendAudit(tx, {
        actor,
        action: 'token.create',
        kind: 'token',
        target: t.id,
        before: undefined,
        after: { id: t.id, name: t.name, scopes: t.scopes },
      })
    })
  }

  async revokeToken(actor: string, id: string): Promise<boolean> {
    return this.driver.transaction(async (tx) => {
      const n = await tx.run(
        'UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
        [this.#now().toISOString(), id],
      )
      if (n === 0) return false
      await this.#appendAudit(tx, {
        actor,
        action: 'token.revoke',
        kind: 'token',
        target: id,
        before: { id, revoked: false },
        after: { id, revoked: true },
      })
      return true
    })
  }

  /** The live token with this hash (constant-time check of the stored hash). */
  async tokenByHash(hash: string): Promise<TokenRow | undefined> {
    const rows = await this.driver.all(
      'SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL',
      [hash],
    )
    const r = rows[0]
    if (r === undefined) return undefined
    const stored = Buffer.from(String(r['hash']), 'utf8')
    const given = Buffer.from(hash, 'utf8')
    if (stored.length !== given.length || !ctEqual(stored, given)) return undefined
    return rowToToken(r)
  }

  async listTokens(): Promise<TokenRow[]> {
    return (await this.driver.all('SELECT * FROM tokens ORDER BY created_at, id')).map(rowToToken)
  }

  // ---- audit ----

  async #appendAudit(
    tx: SqlExecutor,
    e: {
      actor: string
      action: string
      kind: string
      target: string
      before: unknown
      after: unknown
    },
  ): Promise<AuditEntry> {
    const last = (await tx.all('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'))[0]
    const entry: Omit<AuditEntry, 'hash'> = {
      seq: last === undefined ? 1 : Number(last['seq']) + 1,
      at: this.#now().toISOString(),
      actor: e.actor,
      action: e.action,
      kind: e.kind,
      target: e.target,
      beforeHash: e.before === undefined ? null : sha256Hex(canonicalJson(e.before)),
      afterHash: e.after === undefined ? null : sha256Hex(canonicalJson(e.after)),
      prevHash: last === undefined ? GENESIS : String(last['hash']),
    }
    const full: AuditEntry = { ...entry, hash: entryHash(entry) }
    await tx.run(
      'INSERT INTO audit (seq, at, actor, action, kind, target, before_hash, after_hash, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [
        full.seq,
        full.at,
        full.actor,
        full.action,
        full.kind,
        full.target,
        full.beforeHash,
        full.afterHash,
        full.prevHash,
        full.hash,
      ],
    )
    return full
  }

  /** Audit entries after `afterSeq`, oldest first (at most `limit`). */
  async audit(afterSeq = 0, limit = 1000): Promise<AuditEntry[]> {
    const rows = await this.driver.all('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?', [
      afterSeq,
      limit,
    ])
    return rows.map(toEntry)
  }

  /** Recomputes every link of the chain. */
  async verifyAudit(): Promise<AuditVerdict> {
    let prev = GENESIS
    let count = 0
    let after = 0
    for (;;) {
      const page = await this.audit(after, 1000)
      if (page.length === 0) break
      for (const e of page) {
        count++
        const { hash, ...rest } = e
        if (e.seq !== count || e.prevHash !== prev || entryHash(rest) !== hash) {
          return { ok: false, count, brokenAt: e.seq }
        }
        prev = hash
        after = e.seq
      }
    }
    return { ok: true, count }
  }

  // ---- counters ----

  async counter(name: string): Promise<number> {
    const r = (await this.driver.all('SELECT value FROM meta WHERE key = ?', [name]))[0]
    return r === undefined ? 0 : Number(r['value'])
  }

  async #bump(tx: SqlExecutor, name: string): Promise<number> {
    const r = (await tx.all('SELECT value FROM meta WHERE key = ?', [name]))[0]
    const next = (r === undefined ? 0 : Number(r['value'])) + 1
    if (r === undefined) {
      await tx.run('INSERT INTO meta (key, value) VALUES (?, ?)', [name, String(next)])
    } else {
      await tx.run('UPDATE meta SET value = ? WHERE key = ?', [String(next), name])
    }
    return next
  }
}

function rowToToken(r: Record<string, unknown>): TokenRow {
  return {
    id: String(r['id']),
    name: String(r['name']),
    hash: String(r['hash']),
    scopes: JSON.parse(String(r['scopes'])) as string[],
    createdAt: String(r['created_at']),
    revokedAt: optStr(r['revoked_at']),
  }
}

/** Non-audited liveness data (lease heartbeats): not a change an operator made. */
export async function recordLease(store: Store, nodeId: string, at: string): Promise<void> {
  await store.driver.transaction(async (tx) => {
    const key = `lease:${nodeId}`
    const n = await tx.run('UPDATE meta SET value = ? WHERE key = ?', [at, key])
    if (n === 0) await tx.run('INSERT INTO meta (key, value) VALUES (?, ?)', [key, at])
  })
}

export async function lastLease(store: Store, nodeId: string): Promise<string | undefined> {
  const r = (await store.driver.all('SELECT value FROM meta WHERE key = ?', [`lease:${nodeId}`]))[0]
  return r === undefined ? undefined : String(r['value'])
}
