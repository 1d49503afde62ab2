/**
 * Name similarity by best token pairs (after watchman's BestPairsJaroWinkler):
 * every query token is paired with at most one listed token and vice versa,
 * greedily by descending Jaro-Winkler similarity of their keys, so word order
 * ("SURNAME, Given" vs "Given Surname") does not matter. The score blends how
 * much of the query was found with how much of the listed name was covered,
 * where a listed patronymic or middle name left unmatched costs little.
 */
import { jaroWinkler } from './jaro-winkler.ts'
import { defaultLegalForms, type LegalForm } from './legal-forms.ts'
import { normalizeName, type NameToken } from './normalize.ts'
import type { ScoringConfig } from './scoring-config.ts'

export interface PreparedName {
  readonly tokens: readonly NameToken[]
  /** Per token: true when it may be absent from a query at little cost. */
  readonly optional: readonly boolean[]
  /** Per token: looks like a patronymic (-ovich, -ovna...); pairs only with another. */
  readonly patronymic: readonly boolean[]
  readonly legalForms: readonly LegalForm[]
  readonly isPerson: boolean
  /** Per token: its weight (length, times informativeness when an index sets it). */
  readonly weights: readonly number[]
}

const orgStopwords = new Set(['the', 'of', 'and', 'for', 'und', 'et'])

/**
 * Country words inside organisation names, in the forms Russian-language
 * names use after romanisation ("Sberbank Rossii", "Rossiyskiy"), folded to
 * one token so a translated name ("Sberbank of Russia") still pairs.
 */
const countryWords: Readonly<Record<string, readonly string[]>> = {
  russia: [
    'rossii',
    'rossiya',
    'rossiia',
    'russia',
    'russian',
    'rossiyskoy',
    'rossiiskoi',
    'rossiyskaya',
    'rossiiskaia',
    'rossiyskiy',
    'rossiiskii',
    'rf',
  ],
  ukraine: ['ukrainy', 'ukraina', 'ukraine', 'ukrainian', 'ukrainskiy', 'ukrainskii', 'ukrayiny'],
  belarus: ['belarus', 'belarusi', 'belarusian', 'belorusskiy', 'belorusskii', 'byelorussia'],
}
let countryKeyMap: Map<string, string> | undefined
function countryKey(t: NameToken): NameToken {
  if (!countryKeyMap) {
    countryKeyMap = new Map()
    for (const [canon, forms] of Object.entries(countryWords)) {
      for (const f of forms)
        for (const tok of normalizeName(f)) for (const k of tok.keys) countryKeyMap.set(k, canon)
    }
  }
  for (const k of t.keys) {
    const canon = countryKeyMap.get(k)
    if (canon !== undefined) return { text: canon, keys: [canon] }
  }
  return t
}
const patronymicRe = /(vich|vych|vitch|vith|vch|ovna|evna|ivna|ichna|ogly|kyzy|uly|qizi)$/

/**
 * Normalises a name for scoring: tokens, legal forms stripped (organisations)
 * and optional tokens marked (patronymics of persons).
 *
 * @example
 * ```ts
 * prepareName('ПАО Сбербанк', false).tokens.map((t) => t.text) // ['sberbank']
 * ```
 */
export function prepareName(name: string, isPerson: boolean): PreparedName {
  let tokens = normalizeName(name)
  let legalForms: LegalForm[] = []
  if (!isPerson) {
    const stripped = defaultLegalForms().strip(tokens)
    legalForms = stripped.forms
    const rest = stripped.rest.filter((t) => !orgStopwords.has(t.text)).map(countryKey)
    tokens = rest.length > 0 ? rest : tokens
  }
  const patronymic = tokens.map((t) => isPerson && tokens.length >= 2 && patronymicRe.test(t.text))
  // Optional when missing from the other side: a patronymic, or the country
  // word of an organisation ("Sberbank" is "Sberbank of Russia").
  const countries = new Set(Object.keys(countryWords))
  const optional = tokens.map(
    (t, i) =>
      (patronymic[i] === true && tokens.length >= 3) ||
      (!isPerson && tokens.length >= 2 && countries.has(t.text)),
  )
  return { tokens, optional, patronymic, legalForms, isPerson, weights: tokens.map(lengthWeight) }
}

export interface TokenPair {
  readonly query: string
  readonly listed: string
  readonly similarity: number
}

export interface NameScore {
  readonly score: number
  readonly pairs: readonly TokenPair[]
  readonly unmatchedQuery: readonly string[]
  readonly unmatchedListed: readonly string[]
}

/** Longer tokens carry more evidence, up to a point. */
export function lengthWeight(t: NameToken): number {
  return Math.min(8, t.text.length) + 1
}

/**
 * Re-weights tokens by how rare they are among listed names (inverse
 * document frequency), so "invest" or "mohammed" count for less than "sberbank".
 * `df` gives the number of listed names holding a key, out of `total`.
 */
export function withInformativeness(
  p: PreparedName,
  df: (key: string) => number,
  total: number,
): PreparedName {
  const weights = p.tokens.map((t, i) => {
    const d = Math.min(...t.keys.map((k) => Math.max(1, df(k))))
    const idf = Math.log((total + 1) / d) / Math.log((total + 1) / 3)
    return (p.weights[i] ?? lengthWeight(t)) * Math.max(0.15, Math.min(1, idf))
  })
  return { ...p, weights }
}

/** Levenshtein distance on UTF-16 code units (two-row dynamic programme). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost))
    }
    prev = cur
  }
  return prev[b.length] ?? 0
}

export function tokenSimilarity(a: NameToken, b: NameToken, cfg: ScoringConfig): number {
  let best = 0
  for (const ka of a.keys) {
    for (const kb of b.keys) {
      if (ka === kb) return 1
      let s: number
      if (ka.length === 1 || kb.length === 1) {
        s = ka.charAt(0) === kb.charAt(0) ? cfg.initialSimilarity : 0
      } else {
        // Jaro-Winkler alone rewards a shared prefix even when one token is
        // much longer ("smith" / "smithers"); averaging with the edit-distance
        // similarity keeps typos high and truncations low.
        const lev = 1 - levenshtein(ka, kb) / Math.max(ka.length, kb.length)
        s = (jaroWinkler(ka, kb) + lev) / 2
      }
      if (s > best) best = s
    }
  }
  return best
}

/**
 * Scores a query name against a listed name, in [0, 1].
 *
 * @example
 * ```ts
 * const q = prepareName('Vladimir Putin', true)
 * const l = prepareName('PUTIN, Vladimir Vladimirovich', true)
 * bestPairsScore(q, l, defaultScoringConfig).score // ≈ 0.99
 * ```
 */
export function bestPairsScore(q: PreparedName, l: PreparedName, cfg: ScoringConfig): NameScore {
  const qt = q.tokens
  const lt = l.tokens
  if (qt.length === 0 || lt.length === 0) {
    return { score: 0, pairs: [], unmatchedQuery: qt.map((t) => t.text), unmatchedListed: [] }
  }
  const cells: { i: number; j: number; s: number }[] = []
  for (let i = 0; i < qt.length; i++) {
    const a = qt[i]
    if (!a) continue
    for (let j = 0; j < lt.length; j++) {
      const b = lt[j]
      if (!b) continue
      const s = tokenSimilarity(a, b, cfg)
      // A given name pairs with a patronymic only when nearly identical
      // ("Evgeny" / "Evgenyevich" no; a typo in "Eduardovich" yes).
      const min = q.patronymic[i] === l.patronymic[j] ? cfg.tokenMinSimilarity : 0.93
      if (s >= min) cells.push({ i, j, s })
    }
  }
  cells.sort((x, y) => y.s - x.s || x.i - y.i || x.j - y.j)
  const qUsed = new Array<number>(qt.length).fill(-1)
  const lUsed = new Array<number>(lt.length).fill(-1)
  const pairs: TokenPair[] = []
  for (const c of cells) {
    if ((qUsed[c.i] ?? 0) >= 0 || (lUsed[c.j] ?? 0) >= 0) continue
    qUsed[c.i] = c.s
    lUsed[c.j] = c.s
    pairs.push({ query: qt[c.i]?.text ?? '', listed: lt[c.j]?.text ?? '', similarity: c.s })
  }
  let qNum = 0
  let qDen = 0
  // An unmatched query token is evidence against however common it is, so it
  // counts at least at half its plain length weight ("Patricia Khan" is not "PATRICIA").
  qt.forEach((t, i) => {
    const s = qUsed[i] ?? -1
    if (s >= 0) {
      const w = q.weights[i] ?? 1
      qNum += w * s
      qDen += w
    } else {
      const w = Math.max(q.weights[i] ?? 1, lengthWeight(t) * cfg.unmatchedQueryFloor)
      // A patronymic (or country word) the list does not carry says little either way.
      qDen += q.patronymic[i] === true || q.optional[i] === true ? w * cfg.patronymicFactor : w
    }
  })
  let lNum = 0
  let lDen = 0
  lt.forEach((_, j) => {
    const w = l.weights[j] ?? 1
    const s = lUsed[j] ?? -1
    if (s >= 0) {
      lNum += w * s
      lDen += w
    } else if (l.optional[j] === true) {
      lDen += w * cfg.patronymicFactor
    } else {
      lDen += w * (l.isPerson ? cfg.unmatchedPersonTokenFactor : 1)
    }
  })
  const qCov = qNum / qDen
  const lCov = lNum / lDen
  const a = cfg.queryCoverageWeight
  const score =
    cfg.coverageMean === 'harmonic'
      ? qCov === 0 || lCov === 0
        ? 0
        : 1 / (a / qCov + (1 - a) / lCov)
      : a * qCov + (1 - a) * lCov
  return {
    score,
    pairs,
    unmatchedQuery: qt.filter((_, i) => (qUsed[i] ?? -1) < 0).map((t) => t.text),
    unmatchedListed: lt.filter((_, j) => (lUsed[j] ?? -1) < 0).map((t) => t.text),
  }
}
