/**
 * The screening lifecycle the control plane wires in.
 *
 * - At sign-up an organisation is screened and gets a decision: `block`
 *   (a match-grade hit), `review` (a review-grade hit an analyst must look
 *   at) or `clear`. Every decision is stored with the list versions, the
 *   scoring-config version and the evidence, and appended to a log.
 * - When a list version changes (`setIndex`), every organisation is
 *   re-screened: new designations produce new decisions, removals clear them.
 * - Review-grade hits open review items. An analyst confirms one (the
 *   organisation is blocked) or dismisses it: the org × entry pair is then
 *   suppressed for as long as the entry's content hash is unchanged; when the
 *   list changes that entry (new alias, new date of birth), it comes back.
 * - Becoming blocked emits a `blocked` event (the control plane suspends the
 *   organisation and stops serving its zones); leaving it emits `unblocked`.
 */
import { createHash } from 'node:crypto'
import { ScreeningError } from './errors.ts'
import type { Match, ScreeningIndex } from './matcher.ts'
import type { Entity } from './model.ts'
import type {
  DecisionKind,
  Organisation,
  ReviewItem,
  ScreeningStore,
  StoredDecision,
} from './store.ts'

export type ScreeningEvent =
  | {
      readonly kind: 'blocked'
      readonly orgId: string
      readonly entryIds: readonly string[]
      readonly reason: 'match' | 'confirmed'
    }
  | { readonly kind: 'unblocked'; readonly orgId: string }
  | { readonly kind: 'review-opened'; readonly orgId: string; readonly review: ReviewItem }

export interface ScreeningServiceOptions {
  readonly store: ScreeningStore
  readonly index: ScreeningIndex
  readonly onEvent?: (event: ScreeningEvent) => void
  readonly now?: () => Date
}

export interface ScreeningOutcome {
  readonly orgId: string
  readonly decision: DecisionKind
  readonly previous?: DecisionKind
  /** Hits that counted (dismissed pairs removed). */
  readonly matches: readonly Match[]
}

/** Content hash of a list entry: changes when the list changes what it says. */
export function entryHash(e: Entity): string {
  const content = {
    type: e.type,
    names: e.names,
    birthDates: e.birthDates,
    countries: e.countries,
    identifiers: e.identifiers,
    programs: e.programs,
  }
  return createHash('sha256').update(JSON.stringify(content)).digest('hex')
}

function versionTags(index: ScreeningIndex): string[] {
  return index.versions.map((v) => `${v.list}@${v.date}#${v.sha256}`)
}

/**
 * @example
 * ```ts
 * const service = new ScreeningService({
 *   store: new SqliteScreeningStore('screening.db'),
 *   index: ScreeningIndex.fromLists(await loadLists(dir)),
 *   onEvent: (e) => { if (e.kind === 'blocked') suspendOrganisation(e.orgId) },
 * })
 * service.screenOrganisation({ id: 'org-1', name: 'ПАО Сбербанк', type: 'organization' }).decision // 'block'
 * ```
 */
export class ScreeningService {
  readonly #store: ScreeningStore
  readonly #onEvent: (event: ScreeningEvent) => void
  readonly #now: () => Date
  #index: ScreeningIndex

  constructor(opts: ScreeningServiceOptions) {
    this.#store = opts.store
    this.#index = opts.index
    this.#onEvent = opts.onEvent ?? (() => undefined)
    this.#now = opts.now ?? (() => new Date())
  }

  get index(): ScreeningIndex {
    return this.#index
  }

  /** Screens a new (or changed) organisation, e.g. at sign-up. */
  screenOrganisation(org: Organisation): ScreeningOutcome {
    this.#store.putOrganisation(org)
    return this.#decide(org)
  }

  /**
   * Installs a new index (new list versions) and re-screens every
   * organisation when any list version differs from the current one.
   */
  setIndex(index: ScreeningIndex): ScreeningOutcome[] {
    const before = versionTags(this.#index).join(',')
    this.#index = index
    if (versionTags(index).join(',') === before) return []
    return this.rescreenAll()
  }

  rescreenAll(): ScreeningOutcome[] {
    return this.#store.listOrganisations().map((o) => this.#decide(o))
  }

  /** Open review items, oldest first. */
  reviewQueue(): ReviewItem[] {
    return this.#store.listReviews('open')
  }

  /** The analyst confirms the hit: the organisation is blocked. */
  confirm(reviewId: number, analyst: string, note?: string): ScreeningOutcome {
    return this.#resolve(reviewId, 'confirmed', analyst, note)
  }

  /** The analyst dismisses the hit: suppressed until the list entry changes. */
  dismiss(reviewId: number, analyst: string, note?: string): ScreeningOutcome {
    return this.#resolve(reviewId, 'dismissed', analyst, note)
  }

  decisionOf(orgId: string): StoredDecision | undefined {
    return this.#store.getDecision(orgId)
  }

  #resolve(
    reviewId: number,
    verdict: 'confirmed' | 'dismissed',
    analyst: string,
    note?: string,
  ): ScreeningOutcome {
    const r = this.#store.getReview(reviewId)
    if (r?.status !== 'open') {
      throw new ScreeningError(
        'ERR_SCREENING_STORE',
        `Cannot resolve review ${reviewId}: it is not open`,
      )
    }
    const at = this.#now().toISOString()
    this.#store.resolveReview(reviewId, verdict, at, analyst, note)
    this.#store.putVerdict(r.orgId, r.entryId, r.entryHash, verdict, analyst, at)
    const org = this.#store.getOrganisation(r.orgId)
    if (!org)
      throw new ScreeningError(
        'ERR_SCREENING_STORE',
        `Cannot resolve review ${reviewId}: organisation ${r.orgId} is gone`,
      )
    return this.#decide(org)
  }

  #decide(org: Organisation): ScreeningOutcome {
    const at = this.#now().toISOString()
    const all = this.#index.screen({
      name: org.name,
      type: org.type,
      ...(org.country !== undefined ? { country: org.country } : {}),
      ...(org.dob !== undefined ? { dob: org.dob } : {}),
      ...(org.identifiers !== undefined ? { identifiers: org.identifiers } : {}),
    })
    const counted: Match[] = []
    const blockedBy: string[] = []
    let confirmed = false
    let needsReview = false
    for (const m of all) {
      const hash = entryHash(m.entity)
      const verdict = this.#store.getVerdict(org.id, m.id)
      const current = verdict?.entryHash === hash ? verdict.verdict : undefined
      if (current === 'dismissed') continue
      counted.push(m)
      if (current === 'confirmed') {
        confirmed = true
        blockedBy.push(m.id)
      } else if (m.decision === 'match') {
        blockedBy.push(m.id)
      } else {
        needsReview = true
        const open = this.#store.findOpenReview(org.id, m.id)
        if (open && open.entryHash !== hash) this.#store.resolveReview(open.id, 'superseded', at)
        if (!open || open.entryHash !== hash) {
          const review = this.#store.openReview(org.id, m.id, hash, m.score, at)
          this.#onEvent({ kind: 'review-opened', orgId: org.id, review })
        }
      }
    }
    // Reviews whose entry no longer hits (delisted, or now below threshold) are superseded.
    const hitIds = new Set(counted.map((m) => m.id))
    for (const r of this.#store.listReviews('open')) {
      if (r.orgId === org.id && !hitIds.has(r.entryId))
        this.#store.resolveReview(r.id, 'superseded', at)
    }
    const decision: DecisionKind = blockedBy.length > 0 ? 'block' : needsReview ? 'review' : 'clear'
    const previous = this.#store.getDecision(org.id)?.decision
    this.#store.putDecision({
      orgId: org.id,
      decision,
      listVersions: versionTags(this.#index),
      configVersion: this.#index.config.version,
      evidence: JSON.stringify(
        counted.map((m) => ({
          id: m.id,
          name: m.name,
          score: m.score,
          decision: m.decision,
          evidence: m.evidence,
        })),
      ),
      decidedAt: at,
    })
    if (decision === 'block' && previous !== 'block') {
      this.#onEvent({
        kind: 'blocked',
        orgId: org.id,
        entryIds: blockedBy,
        reason: confirmed ? 'confirmed' : 'match',
      })
    } else if (decision !== 'block' && previous === 'block') {
      this.#onEvent({ kind: 'unblocked', orgId: org.id })
    }
    return {
      orgId: org.id,
      decision,
      ...(previous !== undefined ? { previous } : {}),
      matches: counted,
    }
  }
}
