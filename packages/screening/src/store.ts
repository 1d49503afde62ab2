/**
 * Storage for the screening lifecycle behind a small interface, so the
 * control plane can use node:sqlite on one machine and PostgreSQL later.
 * The SQLite implementation follows undici's sqlite cache store: versioned
 * table names (`*_v1`), PRAGMAs set once, every statement prepared once in
 * the constructor and kept as a private field.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { ScreeningError } from './errors.ts'

export type DecisionKind = 'clear' | 'review' | 'block'

export interface Organisation {
  readonly id: string
  readonly name: string
  readonly type: 'person' | 'organization'
  readonly country?: string
  readonly dob?: string
  readonly identifiers?: readonly string[]
}

export interface StoredDecision {
  readonly orgId: string
  readonly decision: DecisionKind
  /** `list@date#sha256` of every list the decision was made against. */
  readonly listVersions: readonly string[]
  readonly configVersion: string
  /** The matches (with evidence) that led to the decision, as JSON. */
  readonly evidence: string
  readonly decidedAt: string
}

export type ReviewStatus = 'open' | 'confirmed' | 'dismissed' | 'superseded'

export interface ReviewItem {
  readonly id: number
  readonly orgId: string
  readonly entryId: string
  readonly entryHash: string
  readonly score: number
  readonly status: ReviewStatus
  readonly openedAt: string
  readonly resolvedAt?: string
  readonly analyst?: string
  readonly note?: string
}

/** What the ScreeningService needs from a database. */
export interface ScreeningStore {
  putOrganisation(org: Organisation): void
  getOrganisation(id: string): Organisation | undefined
  listOrganisations(): Organisation[]
  putDecision(d: StoredDecision): void
  getDecision(orgId: string): StoredDecision | undefined
  openReview(
    orgId: string,
    entryId: string,
    entryHash: string,
    score: number,
    at: string,
  ): ReviewItem
  findOpenReview(orgId: string, entryId: string): ReviewItem | undefined
  getReview(id: number): ReviewItem | undefined
  listReviews(status?: ReviewStatus): ReviewItem[]
  resolveReview(
    id: number,
    status: Exclude<ReviewStatus, 'open'>,
    at: string,
    analyst?: string,
    note?: string,
  ): void
  /** An analyst verdict on an org × list entry, valid while the entry's content hash is unchanged. */
  putVerdict(
    orgId: string,
    entryId: string,
    entryHash: string,
    verdict: 'confirmed' | 'dismissed',
    analyst: string,
    at: string,
  ): void
  getVerdict(
    orgId: string,
    entryId: string,
  ): { entryHash: string; verdict: 'confirmed' | 'dismissed' } | undefined
  close(): void
}

interface OrgRow {
  id: string
  name: string
  type: string
  country: string | null
  dob: string | null
  identifiers: string
}
interface ReviewRow {
  id: number
  org_id: string
  entry_id: string
  entry_hash: string
  score: number
  status: string
  opened_at: string
  resolved_at: string | null
  analyst: string | null
  note: string | null
}

function toOrg(r: OrgRow): Organisation {
  const ids = JSON.parse(r.identifiers) as string[]
  return {
    id: r.id,
    name: r.name,
    type: r.type === 'person' ? 'person' : 'organization',
    ...(r.country !== null ? { country: r.country } : {}),
    ...(r.dob !== null ? { dob: r.dob } : {}),
    ...(ids.length > 0 ? { identifiers: ids } : {}),
  }
}

function toReview(r: ReviewRow): ReviewItem {
  return {
    id: r.id,
    orgId: r.org_id,
    entryId: r.entry_id,
    entryHash: r.entry_hash,
    score: r.score,
    status: r.status as ReviewStatus,
    openedAt: r.opened_at,
    ...(r.resolved_at !== null ? { resolvedAt: r.resolved_at } : {}),
    ...(r.analyst !== null ? { analyst: r.analyst } : {}),
    ...(r.note !== null ? { note: r.note } : {}),
  }
}

const VERSION = 1

/**
 * @example
 * ```ts
 * const store = new SqliteScreeningStore(':memory:')
 * store.putOrganisation({ id: 'org-1', name: 'Acme LLC', type: 'organization' })
 * ```
 */
export class SqliteScreeningStore implements ScreeningStore {
  readonly #db: DatabaseSync
  readonly #putOrg: StatementSync
  readonly #getOrg: StatementSync
  readonly #listOrgs: StatementSync
  readonly #putDecision: StatementSync
  readonly #getDecision: StatementSync
  readonly #openReview: StatementSync
  readonly #findOpenReview: StatementSync
  readonly #getReview: StatementSync
  readonly #listReviews: StatementSync
  readonly #listReviewsByStatus: StatementSync
  readonly #resolveReview: StatementSync
  readonly #putVerdict: StatementSync
  readonly #getVerdict: StatementSync
  readonly #logDecision: StatementSync

  constructor(location: string) {
    this.#db = new DatabaseSync(location)
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA foreign_keys = ON;
      CREATE TABLE IF NOT EXISTS screening_orgs_v${VERSION} (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
        country TEXT, dob TEXT, identifiers TEXT NOT NULL
      ) STRICT;
      CREATE TABLE IF NOT EXISTS screening_decisions_v${VERSION} (
        org_id TEXT PRIMARY KEY REFERENCES screening_orgs_v${VERSION}(id),
        decision TEXT NOT NULL CHECK (decision IN ('clear', 'review', 'block')),
        list_versions TEXT NOT NULL, config_version TEXT NOT NULL,
        evidence TEXT NOT NULL, decided_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE IF NOT EXISTS screening_decision_log_v${VERSION} (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, org_id TEXT NOT NULL, decision TEXT NOT NULL,
        list_versions TEXT NOT NULL, config_version TEXT NOT NULL,
        evidence TEXT NOT NULL, decided_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE IF NOT EXISTS screening_reviews_v${VERSION} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        org_id TEXT NOT NULL REFERENCES screening_orgs_v${VERSION}(id),
        entry_id TEXT NOT NULL, entry_hash TEXT NOT NULL, score REAL NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'confirmed', 'dismissed', 'superseded')),
        opened_at TEXT NOT NULL, resolved_at TEXT, analyst TEXT, note TEXT
      ) STRICT;
      CREATE UNIQUE INDEX IF NOT EXISTS screening_reviews_open_v${VERSION}
        ON screening_reviews_v${VERSION}(org_id, entry_id) WHERE status = 'open';
      CREATE TABLE IF NOT EXISTS screening_verdicts_v${VERSION} (
        org_id TEXT NOT NULL, entry_id TEXT NOT NULL, entry_hash TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'dismissed')),
        analyst TEXT NOT NULL, decided_at TEXT NOT NULL,
        PRIMARY KEY (org_id, entry_id)
      ) STRICT;
    `)
    const t = (name: string) => `screening_${name}_v${VERSION}`
    this.#putOrg = this.#db.prepare(
      `INSERT INTO ${t('orgs')} (id, name, type, country, dob, identifiers) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET name = excluded.name, type = excluded.type,
         country = excluded.country, dob = excluded.dob, identifiers = excluded.identifiers`,
    )
    this.#getOrg = this.#db.prepare(`SELECT * FROM ${t('orgs')} WHERE id = ?`)
    this.#listOrgs = this.#db.prepare(`SELECT * FROM ${t('orgs')} ORDER BY id`)
    this.#putDecision = this.#db.prepare(
      `INSERT INTO ${t('decisions')} (org_id, decision, list_versions, config_version, evidence, decided_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(org_id) DO UPDATE SET decision = excluded.decision, list_versions = excluded.list_versions,
         config_version = excluded.config_version, evidence = excluded.evidence, decided_at = excluded.decided_at`,
    )
    this.#getDecision = this.#db.prepare(`SELECT * FROM ${t('decisions')} WHERE org_id = ?`)
    this.#openReview = this.#db.prepare(
      `INSERT INTO ${t('reviews')} (org_id, entry_id, entry_hash, score, status, opened_at)
       VALUES (?, ?, ?, ?, 'open', ?) RETURNING *`,
    )
    this.#findOpenReview = this.#db.prepare(
      `SELECT * FROM ${t('reviews')} WHERE org_id = ? AND entry_id = ? AND status = 'open'`,
    )
    this.#getReview = this.#db.prepare(`SELECT * FROM ${t('reviews')} WHERE id = ?`)
    this.#listReviews = this.#db.prepare(`SELECT * FROM ${t('reviews')} ORDER BY id`)
    this.#listReviewsByStatus = this.#db.prepare(
      `SELECT * FROM ${t('reviews')} WHERE status = ? ORDER BY id`,
    )
    this.#resolveReview = this.#db.prepare(
      `UPDATE ${t('reviews')} SET status = ?, resolved_at = ?, analyst = ?, note = ? WHERE id = ? AND status = 'open'`,
    )
    this.#putVerdict = this.#db.prepare(
      `INSERT INTO ${t('verdicts')} (org_id, entry_id, entry_hash, verdict, analyst, decided_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(org_id, entry_id) DO UPDATE SET entry_hash = excluded.entry_hash, verdict = excluded.verdict,
         analyst = excluded.analyst, decided_at = excluded.decided_at`,
    )
    this.#getVerdict = this.#db.prepare(
      `SELECT entry_hash, verdict FROM ${t('verdicts')} WHERE org_id = ? AND entry_id = ?`,
    )
    this.#logDecision = this.#db.prepare(
      `INSERT INTO ${t('decision_log')} (org_id, decision, list_versions, config_version, evidence, decided_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    )
  }

  putOrganisation(o: Organisation): void {
    this.#putOrg.run(
      o.id,
      o.name,
      o.type,
      o.country ?? null,
      o.dob ?? null,
      JSON.stringify(o.identifiers ?? []),
    )
  }

  getOrganisation(id: string): Organisation | undefined {
    const r = this.#getOrg.get(id) as OrgRow | undefined
    return r ? toOrg(r) : undefined
  }

  listOrganisations(): Organisation[] {
    return (this.#listOrgs.all() as unknown as OrgRow[]).map(toOrg)
  }

  putDecision(d: StoredDecision): void {
    const args = [
      d.orgId,
      d.decision,
      JSON.stringify(d.listVersions),
      d.configVersion,
      d.evidence,
      d.decidedAt,
    ] as const
    this.#putDecision.run(...args)
    this.#logDecision.run(...args)
  }

  getDecision(orgId: string): StoredDecision | undefined {
    const r = this.#getDecision.get(orgId) as
      | {
          org_id: string
          decision: string
          list_versions: string
          config_version: string
          evidence: string
          decided_at: string
        }
      | undefined
    if (!r) return undefined
    return {
      orgId: r.org_id,
      decision: r.decision as DecisionKind,
      listVersions: JSON.parse(r.list_versions) as string[],
      configVersion: r.config_version,
      evidence: r.evidence,
      decidedAt: r.decided_at,
    }
  }

  openReview(
    orgId: string,
    entryId: string,
    entryHash: string,
    score: number,
    at: string,
  ): ReviewItem {
    const r = this.#openReview.get(orgId, entryId, entryHash, score, at) as ReviewRow | undefined
    if (!r)
      throw new ScreeningError(
        'ERR_SCREENING_STORE',
        `Cannot open review for ${orgId} × ${entryId}`,
      )
    return toReview(r)
  }

  findOpenReview(orgId: string, entryId: string): ReviewItem | undefined {
    const r = this.#findOpenReview.get(orgId, entryId) as ReviewRow | undefined
    return r ? toReview(r) : undefined
  }

  getReview(id: number): ReviewItem | undefined {
    const r = this.#getReview.get(id) as ReviewRow | undefined
    return r ? toReview(r) : undefined
  }

  listReviews(status?: ReviewStatus): ReviewItem[] {
    const rows = (status === undefined
      ? this.#listReviews.all()
      : this.#listReviewsByStatus.all(status)) as unknown as ReviewRow[]
    return rows.map(toReview)
  }

  resolveReview(
    id: number,
    status: Exclude<ReviewStatus, 'open'>,
    at: string,
    analyst?: string,
    note?: string,
  ): void {
    this.#resolveReview.run(status, at, analyst ?? null, note ?? null, id)
  }

  putVerdict(
    orgId: string,
    entryId: string,
    entryHash: string,
    verdict: 'confirmed' | 'dismissed',
    analyst: string,
    at: string,
  ): void {
    this.#putVerdict.run(orgId, entryId, entryHash, verdict, analyst, at)
  }

  getVerdict(
    orgId: string,
    entryId: string,
  ): { entryHash: string; verdict: 'confirmed' | 'dismissed' } | undefined {
    const r = this.#getVerdict.get(orgId, entryId) as
      { entry_hash: string; verdict: string } | undefined
    return r
      ? { entryHash: r.entry_hash, verdict: r.verdict === 'confirmed' ? 'confirmed' : 'dismissed' }
      : undefined
  }

  /** Runs `fn` in one transaction (all of a re-screen lands, or none). */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN')
    try {
      const out = fn()
      this.#db.exec('COMMIT')
      return out
    } catch (e) {
      this.#db.exec('ROLLBACK')
      throw e
    }
  }

  close(): void {
    this.#db.close()
  }
}
