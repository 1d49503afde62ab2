/**
 * The screening index: candidate generation over an inverted index of token
 * keys (normalised, transliterated, phonetic-ish), with a trigram index over
 * the key vocabulary for typos; then full best-pairs scoring of the top
 * candidates and the features (date of birth, country, identifiers) that
 * raise or lower a name score. Person queries only see persons, organisation
 * queries only organisations: a person never matches a vessel.
 *
 * Cost per query is a few posting-list walks plus at most `maxCandidates`
 * full scorings; fuzzy vocabulary look-ups are cached by key, since customer
 * names repeat their tokens heavily.
 */
import { formatBirthDate } from './birth-date.ts'
import { countryCode } from './countries.ts'
import { ScreeningError } from './errors.ts'
import { jaroWinkler } from './jaro-winkler.ts'
import type { LoadedList } from './lists.ts'
import {
  EntityType,
  type BirthDate,
  type Entity,
  type EntityName,
  type ListVersion,
} from './model.ts'
import {
  bestPairsScore,
  prepareName,
  withInformativeness,
  type PreparedName,
  type TokenPair,
} from './name-score.ts'
import { defaultScoringConfig, type ScoringConfig } from './scoring-config.ts'

export interface ScreeningQuery {
  readonly name: string
  readonly type: 'person' | 'organization'
  /** ISO 3166-1 alpha-2. */
  readonly country?: string
  /** YYYY-MM-DD or YYYY. */
  readonly dob?: string
  /** Registration, tax or passport numbers known for the customer. */
  readonly identifiers?: readonly string[]
}

export interface FeatureContribution {
  readonly feature: 'dob' | 'country' | 'identifier' | 'weak-alias'
  readonly contribution: number
  readonly detail: string
}

export interface Evidence {
  readonly configVersion: string
  readonly list: string
  readonly matchedName: string
  readonly nameKind: string
  readonly nameScore: number
  readonly pairs: readonly TokenPair[]
  readonly unmatchedQuery: readonly string[]
  readonly unmatchedListed: readonly string[]
  readonly features: readonly FeatureContribution[]
}

export type Decision = 'match' | 'review'

export interface Match {
  readonly id: string
  /** The entity's primary name. */
  readonly name: string
  readonly score: number
  readonly decision: Decision
  readonly entity: Entity
  readonly evidence: Evidence
}

interface IndexedName {
  readonly entity: number
  readonly name: EntityName
  readonly prepared: PreparedName
}

interface Scratch {
  readonly best: Float64Array
  readonly bestLw: Float64Array
  readonly bestStamp: Uint32Array
  readonly qAcc: Float64Array
  readonly lAcc: Float64Array
  readonly accStamp: Uint32Array
  /** Monotonic stamp source: a slot is valid only when its stamp is current. */
  clock: number
  /** The stamp of the query in progress. */
  query: number
}

class SubIndex {
  readonly names: IndexedName[] = []
  readonly vocab = new Map<string, number>()
  readonly vocabKeys: string[] = []
  readonly postings: number[][] = []
  readonly trigrams = new Map<string, number[]>()
  readonly fuzzyCache = new Map<string, { vocab: number; sim: number }[]>()
  /** Per vocabulary key: its weight as a listed token (length x informativeness). */
  vocabWeight: Float64Array = new Float64Array(0)
  /** Per listed name: total token weight, and the share a query must explain. */
  nameWeight: Float64Array = new Float64Array(0)

  #scratch: Scratch | undefined

  /** Per-query work arrays, allocated once (screening is single-threaded per index). */
  scratch(): Scratch {
    const n = this.names.length
    if (this.#scratch?.best.length !== n) {
      this.#scratch = {
        best: new Float64Array(n),
        bestLw: new Float64Array(n),
        bestStamp: new Uint32Array(n),
        qAcc: new Float64Array(n),
        lAcc: new Float64Array(n),
        accStamp: new Uint32Array(n),
        clock: 1,
        query: 1,
      }
    }
    return this.#scratch
  }

  df = (key: string): number => {
    const v = this.vocab.get(key)
    return v === undefined ? 0 : (this.postings[v]?.length ?? 0)
  }

  /** Computes informativeness weights once every name is in. */
  finish(): void {
    const total = this.names.length
    for (let i = 0; i < this.names.length; i++) {
      const n = this.names[i]
      if (n) this.names[i] = { ...n, prepared: withInformativeness(n.prepared, this.df, total) }
    }
    this.vocabWeight = new Float64Array(this.vocabKeys.length)
    for (const n of this.names) {
      n.prepared.tokens.forEach((t, j) => {
        const w = n.prepared.weights[j] ?? 1
        for (const k of t.keys) {
          const v = this.vocab.get(k)
          if (v !== undefined && (this.vocabWeight[v] ?? 0) < w) this.vocabWeight[v] = w
        }
      })
    }
    this.nameWeight = new Float64Array(this.names.length)
    this.names.forEach((n, i) => {
      this.nameWeight[i] = n.prepared.weights.reduce(
        (sum, w, j) => sum + w * (n.prepared.optional[j] === true ? 0.1 : 1),
        0,
      )
    })
  }

  add(n: IndexedName): void {
    const id = this.names.length
    this.names.push(n)
    for (const t of n.prepared.tokens) {
      for (const k of t.keys) {
        let v = this.vocab.get(k)
        if (v === undefined) {
          v = this.vocabKeys.length
          this.vocab.set(k, v)
          this.vocabKeys.push(k)
          this.postings.push([])
          for (const g of trigramsOf(k)) {
            let list = this.trigrams.get(g)
            if (!list) this.trigrams.set(g, (list = []))
            list.push(v)
          }
        }
        const p = this.postings[v]
        if (p && p.at(-1) !== id) p.push(id)
      }
    }
  }

  /** Vocabulary entries similar to `key` (exact included), cached. */
  similar(key: string, minSim: number): { vocab: number; sim: number }[] {
    const hit = this.fuzzyCache.get(key)
    if (hit) return hit
    const out: { vocab: number; sim: number }[] = []
    const exact = this.vocab.get(key)
    if (exact !== undefined) out.push({ vocab: exact, sim: 1 })
    if (key.length >= 4) {
      const grams = trigramsOf(key)
      const counts = new Map<number, number>()
      for (const g of grams) {
        for (const v of this.trigrams.get(g) ?? []) counts.set(v, (counts.get(v) ?? 0) + 1)
      }
      const need = Math.max(1, Math.floor(grams.length * 0.34))
      for (const [v, c] of counts) {
        if (c < need || v === exact) continue
        const other = this.vocabKeys[v] ?? ''
        const sim = jaroWinkler(key, other)
        if (sim >= minSim) out.push({ vocab: v, sim })
      }
    }
    if (this.fuzzyCache.size > 200_000) this.fuzzyCache.clear()
    this.fuzzyCache.set(key, out)
    return out
  }
}

function trigramsOf(key: string): string[] {
  const s = `^${key}$`
  const out: string[] = []
  for (let i = 0; i + 3 <= s.length; i++) out.push(s.slice(i, i + 3))
  return out
}

function parseQueryDob(dob: string): BirthDate {
  const m = /^(\d{4})(?:-(\d{2})-(\d{2}))?$/.exec(dob)
  if (!m)
    throw new ScreeningError(
      'ERR_SCREENING_QUERY',
      `Cannot screen: dob '${dob}' is not YYYY-MM-DD or YYYY`,
    )
  const year = Number(m[1])
  if (m[2] === undefined) return { year }
  const month = Number(m[2])
  const day = Number(m[3])
  if (month < 1 || month > 12 || day < 1 || day > 31) {
    throw new ScreeningError(
      'ERR_SCREENING_QUERY',
      `Cannot screen: dob '${dob}' is not a valid date`,
    )
  }
  return { year, month, day }
}

function dobFeature(
  q: BirthDate,
  listed: readonly BirthDate[],
  cfg: ScoringConfig,
): FeatureContribution | undefined {
  if (listed.length === 0) return undefined
  let best: FeatureContribution | undefined
  for (const d of listed) {
    const lo = d.year
    const hi = d.toYear ?? d.year
    const distance = q.year < lo ? lo - q.year : q.year > hi ? q.year - hi : 0
    let f: FeatureContribution
    const shown = formatBirthDate(d)
    if (distance === 0) {
      if (q.day !== undefined && d.day !== undefined && d.toYear === undefined) {
        f =
          q.month === d.month && q.day === d.day
            ? { feature: 'dob', contribution: cfg.dob.exactBoost, detail: `exact date ${shown}` }
            : { feature: 'dob', contribution: 0, detail: `same year, other day (${shown})` }
      } else {
        f = { feature: 'dob', contribution: cfg.dob.yearBoost, detail: `year within ${shown}` }
      }
    } else if (distance <= cfg.dob.toleranceYears) {
      f = {
        feature: 'dob',
        contribution: 0,
        detail: `${distance} year(s) from ${shown}, tolerated`,
      }
    } else {
      const pen = Math.min(
        cfg.dob.maxPenalty,
        cfg.dob.penaltyPerYear * (distance - cfg.dob.toleranceYears),
      )
      f = { feature: 'dob', contribution: -pen, detail: `${distance} years from ${shown}` }
    }
    if (!best || f.contribution > best.contribution) best = f
  }
  return best
}

function normId(s: string): string {
  return s.toUpperCase().replace(/[^0-9A-Z]/g, '')
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000
}

/**
 * @example
 * ```ts
 * const index = ScreeningIndex.fromLists(await loadLists(dir))
 * const [best] = index.screen({ name: 'Сбербанк России', type: 'organization' })
 * best?.id // 'us-ofac-sdn:17018'
 * ```
 */
export class ScreeningIndex {
  readonly entities: readonly Entity[]
  readonly versions: readonly ListVersion[]
  readonly config: ScoringConfig
  readonly #persons = new SubIndex()
  readonly #orgs = new SubIndex()

  constructor(
    entities: readonly Entity[],
    versions: readonly ListVersion[],
    config: ScoringConfig = defaultScoringConfig,
  ) {
    this.entities = entities
    this.versions = versions
    this.config = config
    entities.forEach((e, i) => {
      const sub =
        e.type === EntityType.Person
          ? this.#persons
          : e.type === EntityType.Organization
            ? this.#orgs
            : undefined
      if (!sub) return
      const seen = new Set<string>()
      for (const name of e.names) {
        const prepared = prepareName(name.full, e.type === EntityType.Person)
        const sig = prepared.tokens.map((t) => t.keys.join('|')).join(' ')
        if (prepared.tokens.length === 0 || seen.has(sig)) continue
        seen.add(sig)
        sub.add({ entity: i, name, prepared })
      }
    })
    this.#persons.finish()
    this.#orgs.finish()
  }

  static fromLists(
    lists: readonly LoadedList[],
    config: ScoringConfig = defaultScoringConfig,
  ): ScreeningIndex {
    return new ScreeningIndex(
      lists.flatMap((l) => l.entities),
      lists.map((l) => l.version),
      config,
    )
  }

  /** Screens one query; matches best first, only those at or above the review threshold. */
  screen(query: ScreeningQuery): Match[] {
    const cfg = this.config
    const isPerson = query.type === 'person'
    const sub = isPerson ? this.#persons : this.#orgs
    const prepared = prepareName(query.name, isPerson)
    if (prepared.tokens.length === 0) return []
    const q = withInformativeness(prepared, sub.df, sub.names.length)
    const qDob = query.dob !== undefined ? parseQueryDob(query.dob) : undefined
    const qCountry = query.country !== undefined ? countryCode(query.country) : undefined
    // 1. Candidate generation: per listed name, the weighted best similarity of
    // each query token (query side) and of the listed token it hit (listed side).
    const scratch = sub.scratch()
    scratch.query = ++scratch.clock
    const touched: number[] = []
    let qTotal = 0
    q.tokens.forEach((t, i) => {
      const w = q.weights[i] ?? 1
      qTotal += q.patronymic[i] === true ? w * cfg.patronymicFactor : w
      if (t.text.length < 2) return
      const tokStamp = ++scratch.clock
      const hits: number[] = []
      for (const k of t.keys) {
        for (const { vocab, sim } of sub.similar(k, cfg.tokenMinSimilarity)) {
          const lw = sub.vocabWeight[vocab] ?? 1
          const postings = sub.postings[vocab]
          if (!postings) continue
          for (const n of postings) {
            if (scratch.bestStamp[n] !== tokStamp) {
              scratch.bestStamp[n] = tokStamp
              scratch.best[n] = sim
              scratch.bestLw[n] = lw
              hits.push(n)
            } else if ((scratch.best[n] ?? 0) < sim) {
              scratch.best[n] = sim
              scratch.bestLw[n] = lw
            }
          }
        }
      }
      for (const n of hits) {
        if (scratch.accStamp[n] !== scratch.query) {
          scratch.accStamp[n] = scratch.query
          scratch.qAcc[n] = 0
          scratch.lAcc[n] = 0
          touched.push(n)
        }
        const sim = scratch.best[n] ?? 0
        scratch.qAcc[n] = (scratch.qAcc[n] ?? 0) + w * sim
        scratch.lAcc[n] = (scratch.lAcc[n] ?? 0) + (scratch.bestLw[n] ?? 1) * sim
      }
    })
    // Optimistic estimate of the final name score (the arithmetic mean bounds
    // the harmonic one from above); prune what cannot reach review.
    const a = cfg.queryCoverageWeight
    const estimates: [number, number][] = []
    for (const n of touched) {
      const qm = scratch.qAcc[n] ?? 0
      const lm = scratch.lAcc[n] ?? 0
      const lTotal = Math.max(lm, sub.nameWeight[n] ?? lm)
      const lRest = (lTotal - lm) * (isPerson ? cfg.unmatchedPersonTokenFactor : 1)
      const est = a * Math.min(1, qm / qTotal) + (1 - a) * (lm / (lm + lRest || 1))
      if (est >= cfg.reviewThreshold - 0.1) estimates.push([n, est])
    }
    estimates.sort((x, y) => y[1] - x[1])
    const ranked = estimates
    // 2. Full scoring of the top candidates, best name per entity.
    const perEntity = new Map<
      number,
      { n: IndexedName; score: ReturnType<typeof bestPairsScore> }
    >()
    for (const [nameIdx] of ranked.slice(0, cfg.maxCandidates)) {
      const n = sub.names[nameIdx]
      if (!n) continue
      const s = bestPairsScore(q, n.prepared, cfg)
      const cur = perEntity.get(n.entity)
      const eff = n.name.isWeak === true ? Math.min(s.score, cfg.weakAliasCap) : s.score
      const curEff = cur
        ? cur.n.name.isWeak === true
          ? Math.min(cur.score.score, cfg.weakAliasCap)
          : cur.score.score
        : -1
      if (eff > curEff) perEntity.set(n.entity, { n, score: s })
    }
    // 3. Features.
    const out: Match[] = []
    for (const [entityIdx, { n, score }] of perEntity) {
      const e = this.entities[entityIdx]
      if (!e) continue
      const features: FeatureContribution[] = []
      const base = score.score
      if (n.name.isWeak === true && base > cfg.weakAliasCap) {
        features.push({
          feature: 'weak-alias',
          contribution: cfg.weakAliasCap - base,
          detail: 'matched only a weak alias',
        })
      }
      if (qDob) {
        const f = dobFeature(qDob, e.birthDates, cfg)
        if (f) features.push(f)
      }
      if (qCountry !== undefined && e.countries.length > 0) {
        features.push(
          e.countries.includes(qCountry)
            ? {
                feature: 'country',
                contribution: cfg.country.matchBoost,
                detail: `${qCountry} listed`,
              }
            : {
                feature: 'country',
                contribution: -cfg.country.mismatchPenalty,
                detail: `${qCountry} not in ${e.countries.join(',')}`,
              },
        )
      }
      if (query.identifiers && query.identifiers.length > 0) {
        const mine = new Set(query.identifiers.map(normId).filter((x) => x.length >= 4))
        const hit = e.identifiers.find((i) => mine.has(normId(i.value)))
        if (hit)
          features.push({
            feature: 'identifier',
            contribution: cfg.identifierMatchBoost,
            detail: `${hit.type} ${hit.value}`,
          })
      }
      const total = Math.max(
        0,
        Math.min(1, base + features.reduce((s, f) => s + f.contribution, 0)),
      )
      const finalScore = round3(total)
      if (finalScore < cfg.reviewThreshold) continue
      const primary = e.names.find((x) => x.kind === 'primary') ?? e.names[0]
      out.push({
        id: e.id,
        name: primary?.full ?? n.name.full,
        score: finalScore,
        decision: finalScore >= cfg.matchThreshold ? 'match' : 'review',
        entity: e,
        evidence: {
          configVersion: cfg.version,
          list: e.list,
          matchedName: n.name.full,
          nameKind: n.name.kind,
          nameScore: round3(score.score),
          pairs: score.pairs.map((p) => ({ ...p, similarity: round3(p.similarity) })),
          unmatchedQuery: score.unmatchedQuery,
          unmatchedListed: score.unmatchedListed,
          features: features.map((f) => ({ ...f, contribution: round3(f.contribution) })),
        },
      })
    }
    out.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id))
    return out
  }
}
