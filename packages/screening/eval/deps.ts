/** What the evaluation uses from the package, imported by relative path. */
export {
  loadLists,
  normalizeName,
  prepareName,
  romanise,
  bestPairsScore,
  defaultScoringConfig,
  ScreeningIndex,
  type Entity,
  type ScoringConfig,
} from '../src/index.ts'
export { countryCode as countryCodeOf } from '../src/countries.ts'
