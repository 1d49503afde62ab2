/**
 * Romanisation of Russian, Ukrainian and Belarusian Cyrillic into the
 * standards a listed or queried name is likely to be written in. The Russian
 * tables are iuliia's (ICAO Doc 9303 as in passports, BGN/PCGN, GOST 7.79
 * system B, the scholarly "scientific" system, Wikipedia's English practice);
 * the letters only Ukrainian and Belarusian have are mapped first, per each
 * language's own national system (Ukrainian: Cabinet resolution 55 of 2010;
 * Belarusian: 2000 instruction), since iuliia's tables cover Russian only.
 */
import iuliia from 'iuliia'

export const Romanisation = {
  Icao: 'icao',
  BgnPcgn: 'bgn-pcgn',
  Gost779: 'gost-7.79',
  Scientific: 'scientific',
  Wikipedia: 'wikipedia',
  /** Ukrainian national system (г → h, и → y, і → i). */
  Ukrainian: 'ukrainian',
} as const
export type Romanisation = (typeof Romanisation)[keyof typeof Romanisation]

const schemas = {
  icao: iuliia.ICAO_DOC_9303,
  'bgn-pcgn': iuliia.BGN_PCGN,
  'gost-7.79': iuliia.GOST_779_ALT,
  scientific: iuliia.SCIENTIFIC,
  wikipedia: iuliia.WIKIPEDIA,
} as const

/** Letters absent from Russian, mapped before the Russian table runs. */
const extraLetters: Readonly<Record<string, string>> = {
  і: 'i',
  І: 'I',
  ї: 'yi',
  Ї: 'Yi',
  є: 'ye',
  Є: 'Ye',
  ґ: 'g',
  Ґ: 'G',
  ў: 'w',
  Ў: 'W',
}

/** Ukrainian national romanisation, applied letter by letter. */
const ukrainian: Readonly<Record<string, string>> = {
  а: 'a',
  б: 'b',
  в: 'v',
  г: 'h',
  ґ: 'g',
  д: 'd',
  е: 'e',
  є: 'ie',
  ж: 'zh',
  з: 'z',
  и: 'y',
  і: 'i',
  ї: 'i',
  й: 'i',
  к: 'k',
  л: 'l',
  м: 'm',
  н: 'n',
  о: 'o',
  п: 'p',
  р: 'r',
  с: 's',
  т: 't',
  у: 'u',
  ф: 'f',
  х: 'kh',
  ц: 'ts',
  ч: 'ch',
  ш: 'sh',
  щ: 'shch',
  ь: '',
  ю: 'iu',
  я: 'ia',
  ъ: '',
  ы: 'y',
  э: 'e',
  ё: 'io',
  ў: 'u',
}

function withExtraLetters(s: string): string {
  return s.replace(/[іІїЇєЄґҐўЎ]/g, (c) => extraLetters[c] ?? c)
}

/**
 * Romanises Cyrillic text by one standard; non-Cyrillic characters pass through.
 *
 * @example
 * ```ts
 * romanise('Щукин Юрий', 'icao') // 'Shchukin Iurii'
 * romanise('Щукин Юрий', 'bgn-pcgn') // 'Shchukin Yuriy'
 * ```
 */
export function romanise(text: string, standard: Romanisation): string {
  if (standard === 'ukrainian') {
    let out = ''
    for (const ch of text) {
      const lower = ch.toLowerCase()
      const mapped = ukrainian[lower]
      if (mapped === undefined) out += ch
      else out += ch === lower ? mapped : mapped.charAt(0).toUpperCase() + mapped.slice(1)
    }
    return out
  }
  return iuliia.translate(withExtraLetters(text), schemas[standard])
}

/** Every standard above, in a fixed order. */
export const allRomanisations: readonly Romanisation[] = Object.values(Romanisation)
