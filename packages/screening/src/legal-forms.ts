/**
 * Legal-form normalisation: finds "OOO", "ПАО", "Public Joint Stock Company",
 * "GmbH"... anywhere in an organisation's name, so the form can be moved,
 * abbreviated, translated or written in Cyrillic without changing the match.
 * The table is opensanctions/rigour `org_types.yml` (MIT, shipped unchanged in
 * `data/org-types.yml`, quote style normalised by Prettier); this file reads just the subset of YAML it uses.
 */
import { readFileSync } from 'node:fs'
import { normalizeName, type NameToken } from './normalize.ts'

export interface LegalForm {
  /** The form to compare by (rigour `compare`, else `display`). */
  readonly compare: string
  /** Coarse class: LLC, JSC, ... (rigour `generic`), when known. */
  readonly generic?: string
}

interface RawType {
  display?: string
  compare?: string
  generic?: string
  aliases: string[]
}

/** Aliases that are ordinary words in names far more often than legal forms. */
const ignoredAliases = new Set(['in', 'a', 'de', 'e', 'i', 'as', 'co', 'rt'])

function unquote(v: string): string {
  const t = v.replace(/\s+#.*$/, '').trim()
  const quoted = (t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))
  return quoted && t.length >= 2 ? t.slice(1, -1) : t
}

/** Reads the `types:` list of org_types.yml (display/compare/generic/aliases). */
export function parseOrgTypes(text: string): RawType[] {
  const out: RawType[] = []
  let cur: RawType | undefined
  let inAliases = false
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue
    const item = /^ {2}- (\w+): ?(.*)$/.exec(line)
    const field = /^ {4}(\w+): ?(.*)$/.exec(line)
    const alias = /^ {6}- (.*)$/.exec(line)
    if (item) {
      cur = { aliases: [] }
      out.push(cur)
      inAliases = false
      assign(cur, item[1] ?? '', item[2] ?? '')
    } else if (field && cur) {
      inAliases = field[1] === 'aliases'
      if (!inAliases) assign(cur, field[1] ?? '', field[2] ?? '')
    } else if (alias && cur && inAliases) {
      cur.aliases.push(unquote(alias[1] ?? ''))
    }
  }
  return out
}

function assign(t: RawType, key: string, value: string): void {
  const v = unquote(value)
  if (v === '') return
  if (key === 'display') t.display = v
  else if (key === 'compare') t.compare = v
  else if (key === 'generic') t.generic = v
}

/** Finds legal forms in token sequences by longest phrase match. */
export class LegalForms {
  readonly #phrases = new Map<string, LegalForm>()
  /** Single-deletion variants of legal-form words (5+ letters) → the word, for typos. */
  readonly #deletions = new Map<string, string>()
  readonly #words = new Set<string>()
  /** First words of every phrase, so most positions are rejected at once. */
  readonly #firstWords = new Set<string>()
  readonly #corrections = new Map<string, string>()
  readonly #maxLen: number

  constructor(types: readonly RawType[]) {
    let maxLen = 1
    for (const t of types) {
      const compare = t.compare ?? t.display
      if (compare === undefined) continue
      const form: LegalForm =
        t.generic !== undefined ? { compare, generic: t.generic } : { compare }
      for (const a of [...t.aliases, ...(t.display !== undefined ? [t.display] : [])]) {
        const toks = normalizeName(a)
        if (toks.length === 0) continue
        const phrase = toks.map((x) => x.text).join(' ')
        const only = toks.length === 1 ? (toks[0]?.text ?? '') : undefined
        if (only !== undefined && (only.length < 2 || ignoredAliases.has(only))) continue
        if (!this.#phrases.has(phrase)) this.#phrases.set(phrase, form)
        maxLen = Math.max(maxLen, toks.length)
      }
    }
    this.#maxLen = maxLen
    for (const phrase of this.#phrases.keys()) {
      const ws = phrase.split(' ')
      this.#firstWords.add(ws[0] ?? '')
      // Single-word forms join the typo table only when long ("limited", "gesellschaft").
      if (ws.length < 2 && phrase.length < 6) continue
      for (const w of ws) {
        this.#words.add(w)
        if (w.length < 5) continue
        for (let i = 0; i < w.length; i++) this.#deletions.set(w.slice(0, i) + w.slice(i + 1), w)
        this.#deletions.set(w, w)
      }
    }
  }

  /** A token one edit away from a legal-form word ("COMANY", "STiCK") reads as that word. */
  #correct(word: string): string {
    if (word.length < 4 || this.#words.has(word)) return word
    const hit = this.#corrections.get(word)
    if (hit !== undefined) return hit
    const c = this.#computeCorrection(word)
    if (this.#corrections.size >= 100_000) this.#corrections.clear()
    this.#corrections.set(word, c)
    return c
  }

  #computeCorrection(word: string): string {
    const direct = this.#deletions.get(word)
    if (direct !== undefined) return direct
    for (let i = 0; i < word.length; i++) {
      const hit = this.#deletions.get(word.slice(0, i) + word.slice(i + 1))
      if (hit !== undefined && Math.abs(hit.length - word.length) <= 1) return hit
    }
    return word
  }

  get size(): number {
    return this.#phrases.size
  }

  /**
   * Splits tokens into the name proper and the legal forms found in it.
   *
   * @example
   * ```ts
   * const lf = defaultLegalForms()
   * lf.strip(normalizeName('ПАО Сбербанк')).forms[0]?.generic // 'JSC'
   * ```
   */
  strip(tokens: readonly NameToken[]): { rest: NameToken[]; forms: LegalForm[] } {
    const rest: NameToken[] = []
    const forms: LegalForm[] = []
    const texts = tokens.map((t) => t.text)
    const corrected = texts.map((w) => this.#correct(w))
    let i = 0
    outer: while (i < tokens.length) {
      if (!this.#firstWords.has(texts[i] ?? '') && !this.#firstWords.has(corrected[i] ?? '')) {
        const t = tokens[i]
        if (t) rest.push(t)
        i++
        continue
      }
      for (let len = Math.min(this.#maxLen, tokens.length - i); len >= 1; len--) {
        // Forms tolerate one typo per word of 5+ letters (single words: 6+); short ones must be exact.
        const single = corrected[i] ?? ''
        const phrase =
          len === 1
            ? single.length >= 6
              ? single
              : (texts[i] ?? '')
            : corrected.slice(i, i + len).join(' ')
        const form = this.#phrases.get(phrase)
        // Never strip the whole name away: "AO" alone stays a name.
        if (form && !(i === 0 && len === tokens.length)) {
          forms.push(form)
          i += len
          continue outer
        }
      }
      const t = tokens[i]
      if (t) rest.push(t)
      i++
    }
    return { rest, forms }
  }
}

let cached: LegalForms | undefined

/** The shipped rigour table, read once. */
export function defaultLegalForms(): LegalForms {
  cached ??= new LegalForms(
    parseOrgTypes(readFileSync(new URL('../data/org-types.yml', import.meta.url), 'utf8')),
  )
  return cached
}
