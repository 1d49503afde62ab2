/**
 * The scoring parameters, as one explicit, versioned value. Every decision
 * stores `version`, so a score can be reproduced and audited later; there are
 * no environment-variable globals (contrast watchman's `init`-time env reads).
 * See docs/adr/0005-screening-scoring.md for how each number was chosen.
 */
export interface ScoringConfig {
  readonly version: string
  /** Token pairs below this Jaro-Winkler similarity do not count as matched. */
  readonly tokenMinSimilarity: number
  /** Share of the name score taken from query coverage (the rest: listed-name coverage). */
  readonly queryCoverageWeight: number
  /**
   * How the two coverages combine: 'arithmetic' (weighted mean) or 'harmonic'
   * (weighted harmonic mean: both sides must be covered, so a one-word listed
   * name inside a longer query, or a long name hit by one word, stays low).
   */
  readonly coverageMean: 'arithmetic' | 'harmonic'
  /** Weight factor for an unmatched listed token of a person (middle names). */
  readonly unmatchedPersonTokenFactor: number
  /** An unmatched query token weighs at least this share of its plain length weight. */
  readonly unmatchedQueryFloor: number
  /** Weight factor for an unmatched listed patronymic (-ovich, -ovna...). */
  readonly patronymicFactor: number
  /** Similarity given to an initial ("v") against a token it starts ("vladimir"). */
  readonly initialSimilarity: number
  readonly matchThreshold: number
  readonly reviewThreshold: number
  readonly dob: {
    readonly exactBoost: number
    readonly yearBoost: number
    /** Years of difference tolerated without penalty (data-entry slips). */
    readonly toleranceYears: number
    readonly penaltyPerYear: number
    readonly maxPenalty: number
  }
  readonly country: {
    readonly matchBoost: number
    readonly mismatchPenalty: number
  }
  readonly identifierMatchBoost: number
  /** A weak (low-quality) alias alone can never score above this. */
  readonly weakAliasCap: number
  /** Candidates fully scored per query, after the index's cheap ranking. */
  readonly maxCandidates: number
}

/**
 * @example
 * ```ts
 * const cfg: ScoringConfig = { ...defaultScoringConfig, version: 'strict-1', matchThreshold: 0.95 }
 * ```
 */
export const defaultScoringConfig: ScoringConfig = {
  version: 'outpost-screening-2026-11-25.1',
  tokenMinSimilarity: 0.8,
  queryCoverageWeight: 0.5,
  coverageMean: 'harmonic',
  unmatchedPersonTokenFactor: 0.5,
  unmatchedQueryFloor: 0.5,
  patronymicFactor: 0.1,
  initialSimilarity: 0.9,
  matchThreshold: 0.9,
  reviewThreshold: 0.8,
  dob: {
    exactBoost: 0.05,
    yearBoost: 0.02,
    toleranceYears: 1,
    penaltyPerYear: 0.06,
    maxPenalty: 0.3,
  },
  country: { matchBoost: 0.02, mismatchPenalty: 0.04 },
  identifierMatchBoost: 0.2,
  weakAliasCap: 0.85,
  maxCandidates: 40,
}
