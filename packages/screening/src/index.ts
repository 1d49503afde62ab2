/**
 * @module
 * Sanctions screening: list parsers (OFAC SDN and consolidated CSV, UN SC XML,
 * EU FSF XML, UK Sanctions List CSV) into one entity model, and a
 * transliteration-aware matcher with explainable, versioned scoring.
 *
 * @example
 * ```ts
 * import { loadLists, ScreeningIndex } from '@outpost/screening'
 * const index = ScreeningIndex.fromLists(await loadLists('/srv/lists'))
 * index.screen({ name: 'ПАО Сбербанк', type: 'organization' })[0]?.decision // 'match'
 * ```
 */
export { ScreeningError, ListParseError, type ScreeningErrorCode } from './errors.ts'
export * from './model.ts'
export { parseOfac, parseRemarks, type OfacSources } from './ofac.ts'
export { parseUn } from './un.ts'
export { parseEu } from './eu.ts'
export { parseUk } from './uk.ts'
export { findLists, loadList, loadLists, type ListFiles, type LoadedList } from './lists.ts'
export { updateLists, sources, type UpdateOptions } from './update.ts'
export { normalizeName, slavicKey, type NameToken } from './normalize.ts'
export { romanise, Romanisation } from './translit.ts'
export { jaroWinkler } from './jaro-winkler.ts'
export { bestPairsScore, prepareName, type PreparedName, type NameScore } from './name-score.ts'
export { defaultScoringConfig, type ScoringConfig } from './scoring-config.ts'
export {
  ScreeningIndex,
  type ScreeningQuery,
  type Match,
  type Evidence,
  type Decision,
  type FeatureContribution,
} from './matcher.ts'
export { parseQuery, renderMatches, screenLines } from './screen-stream.ts'
export {
  ScreeningService,
  entryHash,
  type ScreeningEvent,
  type ScreeningOutcome,
  type ScreeningServiceOptions,
} from './service.ts'
export {
  SqliteScreeningStore,
  type ScreeningStore,
  type Organisation,
  type StoredDecision,
  type ReviewItem,
  type ReviewStatus,
  type DecisionKind,
} from './store.ts'
export { mayStartPaidPlan, type RegionRule, type PlanCheck } from './region-rules.ts'
