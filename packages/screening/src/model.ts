/**
 * The one entity model every list parser produces. A listed person, company,
 * vessel or aircraft with all its names, dates of birth, countries and
 * identifiers, whichever publisher it came from.
 */

export const EntityType = {
  Person: 'person',
  Organization: 'organization',
  Vessel: 'vessel',
  Aircraft: 'aircraft',
} as const
export type EntityType = (typeof EntityType)[keyof typeof EntityType]

export const NameKind = {
  Primary: 'primary',
  Aka: 'aka',
  Fka: 'fka',
  Nka: 'nka',
} as const
export type NameKind = (typeof NameKind)[keyof typeof NameKind]

export const Script = {
  Latin: 'latin',
  Cyrillic: 'cyrillic',
  Arabic: 'arabic',
  Other: 'other',
} as const
export type Script = (typeof Script)[keyof typeof Script]

export const ListId = {
  OfacSdn: 'us-ofac-sdn',
  OfacCons: 'us-ofac-cons',
  UnSc: 'un-sc',
  EuFsf: 'eu-fsf',
  Uk: 'uk',
} as const
export type ListId = (typeof ListId)[keyof typeof ListId]

export interface EntityName {
  readonly full: string
  readonly kind: NameKind
  readonly script: Script
  /** Low-quality / weak alias: never alerts on its own. */
  readonly isWeak?: boolean
}

/** A date of birth: an exact day, a month, a year, or a span of years. */
export interface BirthDate {
  readonly year: number
  readonly month?: number
  readonly day?: number
  /** Inclusive last year of a range ("circa 1960-1965"); absent for a single date. */
  readonly toYear?: number
}

export interface Identifier {
  readonly type: string
  readonly value: string
  readonly country?: string
}

export interface Entity {
  /** `<list>:<native id>`, e.g. `us-ofac-sdn:17018`. */
  readonly id: string
  readonly list: ListId
  readonly type: EntityType
  readonly names: readonly EntityName[]
  readonly birthDates: readonly BirthDate[]
  /** ISO 3166-1 alpha-2 codes (nationality, citizenship, address, registration). */
  readonly countries: readonly string[]
  readonly identifiers: readonly Identifier[]
  readonly addresses: readonly string[]
  readonly programs: readonly string[]
  readonly linkedTo: readonly string[]
  readonly remarks?: string
}

/** A list as loaded: what it is, when it was published and what exactly was read. */
export interface ListVersion {
  readonly list: ListId
  /** Publication date YYYY-MM-DD (from the file name or the file itself). */
  readonly date: string
  /** SHA-256 over the files' bytes, in the order given in `files`. */
  readonly sha256: string
  readonly files: readonly string[]
  readonly entityCount: number
}

/** A row a parser could not use, with the reason (never silently dropped). */
export interface SkippedRow {
  readonly line: number
  readonly reason: string
}

export interface ParseResult {
  readonly entities: Entity[]
  readonly skipped: SkippedRow[]
  /** Publication date found inside the file, when the format carries one. */
  readonly date?: string
}

/** Detects the dominant script of a string by its letters. */
export function scriptOf(s: string): Script {
  let cyr = 0
  let arab = 0
  let latin = 0
  let other = 0
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0
    if (c >= 0x400 && c <= 0x52f) cyr++
    else if (
      (c >= 0x600 && c <= 0x6ff) ||
      (c >= 0x750 && c <= 0x77f) ||
      (c >= 0xfb50 && c <= 0xfeff)
    )
      arab++
    else if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0xc0 && c <= 0x24f))
      latin++
    else if (/\p{L}/u.test(ch)) other++
  }
  const max = Math.max(cyr, arab, latin, other)
  if (max === 0 || max === latin) return Script.Latin
  if (max === cyr) return Script.Cyrillic
  if (max === arab) return Script.Arabic
  return Script.Other
}
