/**
 * Name normalisation as a pipeline of small named steps (after watchman's
 * `internal/prepare`): Unicode NFKC, token split, case and diacritic folding,
 * script-specific handling (Cyrillic romanised by several standards, Arabic
 * letter-variant folding, other scripts via any-ascii), then a phonetic-ish
 * key that makes the common Slavic romanisations collapse to one spelling.
 */
import anyAscii from 'any-ascii'
import { allRomanisations, romanise } from './translit.ts'

/** One token of a name: its folded surface form and the keys it can match by. */
export interface NameToken {
  /** Folded text (Latin lower-case ASCII, or normalised Arabic letters). */
  readonly text: string
  /** Match keys; a Cyrillic token has one per romanisation that differs. */
  readonly keys: readonly string[]
}

const latinSpecial: Readonly<Record<string, string>> = {
  č: 'ch',
  ć: 'c',
  š: 'sh',
  ŝ: 'shch',
  ž: 'zh',
  ẑ: 'zh',
  ĉ: 'ch',
  ǰ: 'j',
  ß: 'ss',
  æ: 'ae',
  ø: 'o',
  œ: 'oe',
  ł: 'l',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ı: 'i',
  ħ: 'h',
  ŀ: 'l',
}

/** Step 1: NFKC, lower case, split into tokens; dots and apostrophes join. */
export function splitTokens(name: string): string[] {
  return name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/['’‘ʼʹʻ`´ʺ"“”.]/g, '')
    .split(/[^\p{L}\p{M}\p{N}]+/u)
    .filter((t) => t.length > 0)
}

/** Step 2a: Latin diacritics off (č → ch first, so carons are not lost). */
export function foldLatin(token: string): string {
  const special = token.replace(/[čćšŝžẑĉǰßæøœłđðþıħŀ]/g, (c) => latinSpecial[c] ?? c)
  const stripped = special.normalize('NFD').replace(/\p{M}/gu, '')
  return /^[\x20-\x7e]*$/.test(stripped) ? stripped : anyAscii(stripped).toLowerCase()
}

/** Step 2b: Arabic tashkeel, tatweel and letter variants folded. */
export function foldArabic(token: string): string {
  return token
    .normalize('NFKC')
    .replace(/[\u064b-\u065f\u0670\u0640]/g, '')
    .replace(/[أإآٱ]/g, 'ا')
    .replace(/ى/g, 'ي')
    .replace(/ة/g, 'ه')
    .replace(/ؤ/g, 'و')
    .replace(/ئ/g, 'ي')
}

const cyrillicRe = /[\u0400-\u052f]/
const arabicRe = /[\u0600-\u06ff\u0750-\u077f]/

/**
 * Step 3: the phonetic-ish key of a folded Latin token. Romanisations of the
 * same Cyrillic spelling collapse: shch/sch/sh/š, kh/h/x-less, zh/ž,
 * yu/iu/ju, ya/ia/ja, ye/ie/je, yo/io/jo/ё → e (not word-initial yo), final
 * -iy/-ii/-yi/-y/-ij → i, h silent after a vowel,
 * ts/tz/c before front vowels, w → v, doubled letters once.
 *
 * @example
 * ```ts
 * slavicKey('khrushchyov') === slavicKey('hruschev') // true
 * ```
 */
export function slavicKey(token: string): string {
  const hit = keyCache.get(token)
  if (hit !== undefined) return hit
  const key = computeSlavicKey(token)
  if (keyCache.size >= 200_000) keyCache.clear()
  keyCache.set(token, key)
  return key
}

const keyCache = new Map<string, string>()

function computeSlavicKey(token: string): string {
  if (!/^[a-z0-9]+$/.test(token)) return token
  let s = token
  s = s.replace(/ff$/, 'v')
  s = s.replace(/(shch|szcz|shh|sch|sh|sz)/g, 'S')
  s = s.replace(/(tsch|tch|ch|cz)/g, 'C')
  s = s.replace(/(zh|zs)/g, 'Z')
  // GOST 7.79-B and the scientific system write х as x; word-initially before a
  // consonant (Xrushhyov) that is never the English ks.
  s = s.replace(/^x(?=[^aeiouy])/, 'G')
  s = s.replace(/(kh|gh|g)/g, 'G')
  s = s.replace(/([aeiouy])h(?![aeiouy])/g, '$1')
  s = s.replace(/h/g, 'G')
  s = s.replace(/ph/g, 'f')
  s = s.replace(/(ts|tz|c(?=[eiy]|$))/g, 'T')
  s = s.replace(/(ck|c|q)/g, 'k')
  s = s.replace(/x/g, 'ks')
  s = s.replace(/w/g, 'v')
  s = s.replace(/(iy|ii|yy|yi|ij|yj|iyy|y)$/, 'i')
  s = s.replace(/[yij]u/g, 'U')
  s = s.replace(/[yij]a/g, 'A')
  s = s.replace(/^[yij]e/, 'e')
  s = s.replace(/(?<=.)[yij][eo]/g, 'e')
  s = s.replace(/ou|oo/g, 'u')
  s = s.replace(/[yj]/g, 'i')
  s = s.replace(/(.)\1+/g, '$1')
  // Upper-case letters are the merged classes (S = sh/shch, C = ch, Z = zh,
  // G = g/kh/h, T = ts, U = yu, A = ya) and stay distinct from plain letters.
  return s
}

function uniq(xs: readonly string[]): string[] {
  return [...new Set(xs)]
}

const tokenCache = new Map<string, NameToken>()

/** Folds one token of any script into a NameToken (memoised: names repeat their words). */
export function foldToken(raw: string): NameToken {
  const hit = tokenCache.get(raw)
  if (hit !== undefined) return hit
  const t = computeFoldToken(raw)
  if (tokenCache.size >= 200_000) tokenCache.clear()
  tokenCache.set(raw, t)
  return t
}

function computeFoldToken(raw: string): NameToken {
  if (cyrillicRe.test(raw)) {
    // Scientific writes х as x; for keys, read it as kh like every other standard.
    const forms = uniq(
      allRomanisations.map((r) =>
        foldLatin(romanise(raw, r).replace(/['’‘ʼʹʻ`´ʺ"]/g, '')).replace(/x/g, 'kh'),
      ),
    )
    const text = forms[0] ?? raw
    return { text, keys: uniq(forms.map(slavicKey)) }
  }
  if (arabicRe.test(raw)) {
    const text = foldArabic(raw)
    return { text, keys: [text] }
  }
  const text = foldLatin(raw)
  return { text, keys: [slavicKey(text)] }
}

/**
 * The whole pipeline: a raw name in any script to its tokens.
 *
 * @example
 * ```ts
 * normalizeName('Сбербанк России').map((t) => t.text) // ['sberbank', 'rossii']
 * ```
 */
export function normalizeName(name: string): NameToken[] {
  return splitTokens(name)
    .map(foldToken)
    .filter((t) => t.text.length > 0)
}
