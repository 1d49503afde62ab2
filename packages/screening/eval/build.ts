/**
 * Builds the labelled evaluation set `cases.jsonl` from the shared list files
 * (OFAC SDN + consolidated, UN SC) and the MIT `reference/` files (yente
 * positives/negatives). Nothing from eu-oj-transcribed-ccbync is read.
 * Deterministic (seeded PRNG); each case is assigned to the `dev` or the
 * `holdout` split by a hash of its key (20% held out, never used for tuning).
 *
 *   node packages/screening/eval/build.ts [LISTS_DIR]
 */
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import {
  countryCodeOf,
  loadLists,
  normalizeName,
  prepareName,
  romanise,
  type Entity,
} from './deps.ts'
import { cyrillize } from './cyrillize.ts'

export interface EvalCase {
  readonly key: string
  readonly split: 'dev' | 'holdout'
  readonly category: string
  readonly positive: boolean
  readonly query: { name: string; type: 'person' | 'organization'; dob?: string; country?: string }
  /** Positive: one of these must alert. Namesake negative: none of these may alert. */
  readonly expect: readonly string[]
}

const dir =
  process.argv[2] ?? fileURLToPath(new URL('../../../../shared/data/sanctions', import.meta.url))
const out = fileURLToPath(new URL('cases.jsonl', import.meta.url))

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const rnd = mulberry32(7)
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
function sample<T>(xs: readonly T[], n: number): T[] {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[a[i], a[j]] = [a[j] as T, a[i] as T]
  }
  return a.slice(0, n)
}

function validDob(s: string): boolean {
  if (/^\d{4}$/.test(s)) return true
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false
  const d = new Date(`${s}T00:00:00Z`)
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s)
}

const cases: EvalCase[] = []
function add(c: Omit<EvalCase, 'split'>): void {
  const h = createHash('sha256').update(c.key).digest()
  cases.push({ ...c, split: (h[0] ?? 0) % 5 === 0 ? 'holdout' : 'dev' })
}

const lists = await loadLists(dir, ['us-ofac-sdn', 'us-ofac-cons', 'un-sc'])
const all = lists.flatMap((l) => l.entities)
const folded = (s: string) =>
  normalizeName(s)
    .map((t) => t.text)
    .sort()
    .join(' ')
const listedNames = new Set(all.flatMap((e) => e.names.map((n) => folded(n.full))))
/** Phonetic-key form: a "common name" equal to a listed name by key is a true name match. */
const keyed = (s: string) =>
  normalizeName(s)
    .map((t) => t.keys[0] ?? '')
    .sort()
    .join(' ')
const listedKeys = new Set(all.flatMap((e) => e.names.map((n) => keyed(n.full))))
const qtype = (e: Entity): 'person' | 'organization' =>
  e.type === 'person' ? 'person' : 'organization'

const isRussian = (e: Entity) =>
  e.list.startsWith('us-ofac') &&
  (e.type === 'person' || e.type === 'organization') &&
  e.programs.some((p) => /RUSSIA|UKRAINE|BELARUS|CYBER/.test(p)) &&
  (e.type === 'organization' || e.countries.some((c) => ['RU', 'BY', 'UA'].includes(c)))

const englishWords =
  /\b(OF|THE|AND|COMPANY|CORPORATION|GROUP|INTERNATIONAL|TRADING|HOLDING|HOLDINGS|SERVICES?|SYSTEMS?|TECHNOLOGIES|INDUSTRIES|PLANT|FACTORY|LIMITED|LTD|INC|ENTERPRISE|INSTITUTE|STATE|FEDERAL|CENTER|CENTRE|UNIVERSITY|ACADEMY|MINISTRY|DEPARTMENT|AGENCY|FUND|NATIONAL|DESIGN|BUREAU|RESEARCH|SCIENTIFIC|PRODUCTION|ASSOCIATION|SHIPPING|AIRLINES)\b/
const russianForm = { LLC: 'ООО', JSC: 'АО' } as Record<string, string>

/** Core name of a Russian org (legal forms off), or undefined if it reads as English. */
function orgCore(name: string): { core: string; generic?: string } | undefined {
  const p = prepareName(name, false)
  const core = p.tokens
    .map((t) => t.text)
    .join(' ')
    .toUpperCase()
  if (core.length < 4 || englishWords.test(core) || /\d/.test(core)) return undefined
  const generic = p.legalForms[0]?.generic
  return generic !== undefined ? { core, generic } : { core }
}

const russians = all.filter(isRussian)
const persons = russians.filter((e) => e.type === 'person')
const orgs = russians.filter((e) => e.type === 'organization')
const primary = (e: Entity) =>
  e.names.find((n) => n.kind === 'primary')?.full ?? e.names[0]?.full ?? ''
const givenFirst = (n: string) => {
  const [sur, given] = n.split(/,\s*/)
  return given !== undefined ? `${given} ${sur}` : n
}

// Positives: Cyrillic originals (reverse transliteration) of Russian persons and orgs.
for (const e of sample(persons, 250)) {
  const n = givenFirst(primary(e))
  add({
    key: `cyr:${e.id}`,
    category: 'cyrillic',
    positive: true,
    query: { name: cyrillize(n), type: 'person' },
    expect: [e.id],
  })
}
for (const e of sample(orgs, 200)) {
  const c = orgCore(primary(e))
  if (!c) continue
  const form = c.generic !== undefined ? (russianForm[c.generic] ?? '') : ''
  const name = `${form} ${cyrillize(c.core)}`.trim()
  add({
    key: `cyr-org:${e.id}`,
    category: 'cyrillic',
    positive: true,
    query: { name, type: 'organization' },
    expect: [e.id],
  })
}
// Other romanisations: through Cyrillic and back with another standard.
const standards = ['icao', 'gost-7.79', 'scientific', 'wikipedia', 'bgn-pcgn'] as const
for (const e of sample(persons, 250)) {
  const std = pick(standards)
  const n = romanise(cyrillize(givenFirst(primary(e))), std)
  add({
    key: `rom:${e.id}`,
    category: 'romanisation',
    positive: true,
    query: { name: n, type: 'person' },
    expect: [e.id],
  })
}
// Reordered names and missing patronymics.
for (const e of sample(persons, 200)) {
  const parts = primary(e).split(/,\s*/)
  if (parts.length < 2) continue
  const given = (parts[1] ?? '').split(' ')
  const pat = given.findIndex((g, i) => i > 0 && /(OVICH|EVICH|OVNA|EVNA|ICH|INICHNA)$/i.test(g))
  if (pat < 0) {
    add({
      key: `reorder:${e.id}`,
      category: 'reordered',
      positive: true,
      query: { name: `${given.join(' ')} ${parts[0] ?? ''}`, type: 'person' },
      expect: [e.id],
    })
  } else {
    const without = given.filter((_, i) => i !== pat).join(' ')
    add({
      key: `nopat:${e.id}`,
      category: 'no-patronymic',
      positive: true,
      query: { name: `${without} ${parts[0] ?? ''}`, type: 'person' },
      expect: [e.id],
    })
  }
}
// Legal form moved / translated.
const forms: Record<string, string[]> = {
  LLC: ['LLC', 'OOO', 'ООО', 'Limited Liability Company'],
  JSC: ['JSC', 'AO', 'PJSC', 'PAO', 'АО', 'Joint Stock Company'],
}
for (const e of sample(orgs, 300)) {
  const c = orgCore(primary(e))
  if (!c || c.generic === undefined || !forms[c.generic]) continue
  const f = pick(forms[c.generic] ?? [])
  const name = rnd() < 0.5 ? `${c.core} ${f}` : `${f} ${c.core}`
  add({
    key: `lf:${e.id}`,
    category: 'legal-form',
    positive: true,
    query: { name, type: 'organization' },
    expect: [e.id],
  })
}
// Typos: one deletion, insertion or substitution in a token of 5+ letters.
const listedWithNames = all.filter((e) => e.type === 'person' || e.type === 'organization')
for (const e of sample(listedWithNames, 300)) {
  const n = primary(e)
  const tokens = n.split(' ')
  const idx = tokens.map((t, i) => [t, i] as const).filter(([t]) => /^[A-Za-z]{5,}$/.test(t))
  if (idx.length === 0) continue
  const [tok, i] = pick(idx)
  const at = 1 + Math.floor(rnd() * (tok.length - 2))
  const op = rnd()
  const letter = 'aeioulnrst'.charAt(Math.floor(rnd() * 10))
  const t2 =
    op < 0.33
      ? tok.slice(0, at) + tok.slice(at + 1)
      : op < 0.66
        ? tok.slice(0, at) + letter + tok.slice(at)
        : tok.slice(0, at) + letter + tok.slice(at + 1)
  tokens[i] = t2
  add({
    key: `typo:${e.id}`,
    category: 'typo',
    positive: true,
    query: { name: tokens.join(' '), type: qtype(e) },
    expect: [e.id],
  })
}
// Original script from the UN list (Arabic, Cyrillic).
for (const e of all.filter((x) => x.list === 'un-sc')) {
  const orig = e.names.find((n) => n.script === 'arabic' || n.script === 'cyrillic')
  if (!orig) continue
  add({
    key: `orig:${e.id}`,
    category: `original-script-${orig.script}`,
    positive: true,
    query: { name: orig.full, type: qtype(e) },
    expect: [e.id],
  })
}
// yente positives (UN persons; "treated" = typos and reshuffles), resolved to UN ids by name.
const un = all.filter((e) => e.list === 'un-sc' && e.type === 'person')
const unByName = new Map<string, string[]>()
for (const e of un)
  for (const n of e.names) {
    const k = folded(n.full)
    unByName.set(k, [...(unByName.get(k) ?? []), e.id])
  }
type Row = Record<string, string>
const csv = (f: string) =>
  parse<Row>(readFileSync(join(dir, 'reference', f)), { columns: true, skip_empty_lines: true })
const untreated = csv('yente-positives_un_untreated.csv')
const treated = csv('yente-positives_un_treated.csv')
untreated.forEach((row, i) => {
  const ids = unByName.get(folded(row['full_name'] ?? ''))
  const t = treated[i]
  if (!ids || !t) return
  const dob = validDob(t['date_of_birth'] ?? '') ? { dob: t['date_of_birth'] ?? '' } : {}
  add({
    key: `yente-pos:${i}`,
    category: 'yente-treated',
    positive: true,
    query: { name: t['full_name'] ?? '', type: 'person', ...dob },
    expect: [...new Set(ids)],
  })
})

// Negatives: namesakes born 20 years later (same name as listed, must not alert on that entry).
const withDob = all.filter(
  (e) =>
    e.type === 'person' && e.birthDates.some((d) => d.day !== undefined && d.toYear === undefined),
)
for (const e of sample(withDob, 300)) {
  const d = e.birthDates.find((x) => x.day !== undefined && x.toYear === undefined)
  if (!d || d.month === undefined || d.day === undefined) continue
  const p = (x: number) => String(x).padStart(2, '0')
  const dob = `${d.year + 20}-${p(d.month)}-${p(Math.min(d.day, 28))}`
  add({
    key: `namesake:${e.id}`,
    category: 'namesake-dob',
    positive: false,
    query: { name: givenFirst(primary(e)), type: 'person', dob },
    expect: [e.id],
  })
}
// Near-miss companies: the distinctive word replaced by another real word.
const replacement = [
  'Garden',
  'Harbor',
  'Maple',
  'Summit',
  'Orchid',
  'Falcon',
  'Cedar',
  'Meadow',
  'Crystal',
  'Horizon',
  'Beacon',
  'Willow',
  'Granite',
  'Silver',
  'Aurora',
  'Lotus',
  'Prairie',
  'Coral',
  'Pioneer',
  'Sapphire',
]
for (const e of sample(
  all.filter((x) => x.type === 'organization'),
  300,
)) {
  const p = prepareName(primary(e), false)
  // Two or three words: replacing one of five leaves "the same company, one word
  // off", which a reviewer should see; with two or three it is another company.
  if (p.tokens.length < 2 || p.tokens.length > 3) continue
  let longest = 0
  p.tokens.forEach((t, i) => {
    if (t.text.length > (p.tokens[longest]?.text.length ?? 0)) longest = i
  })
  const words = p.tokens.map((t, i) => (i === longest ? pick(replacement) : t.text))
  const name = words.join(' ')
  if (listedNames.has(folded(name))) continue
  add({
    key: `nearmiss:${e.id}`,
    category: 'near-miss-org',
    positive: false,
    query: { name, type: 'organization' },
    expect: [],
  })
}
// Common names not on any list.
const given = [
  'James',
  'Mary',
  'John',
  'Patricia',
  'Robert',
  'Jennifer',
  'Michael',
  'Linda',
  'Ivan',
  'Olga',
  'Sergei',
  'Natalia',
  'Dmitry',
  'Elena',
  'Mohammed',
  'Fatima',
  'Ahmed',
  'Aisha',
  'Ali',
  'Omar',
  'Wei',
  'Carlos',
  'Maria',
  'Jose',
  'Pierre',
  'Hans',
  'Priya',
  'Oksana',
  'Andriy',
]
const surnames = [
  'Smith',
  'Johnson',
  'Brown',
  'Garcia',
  'Miller',
  'Ivanov',
  'Smirnov',
  'Kuznetsova',
  'Popov',
  'Sokolova',
  'Hassan',
  'Khan',
  'Rahman',
  'Wang',
  'Chen',
  'Rodriguez',
  'Dubois',
  'Muller',
  'Patel',
  'Shevchenko',
  'Kovalenko',
  'Nguyen',
  'Kim',
]
for (let i = 0; i < 300; i++) {
  const name = `${pick(given)} ${pick(surnames)}`
  if (listedKeys.has(keyed(name))) continue
  const dob = rnd() < 0.5 ? { dob: String(1950 + Math.floor(rnd() * 50)) } : {}
  add({
    key: `common:${i}:${name}`,
    category: 'common-name',
    positive: false,
    query: { name, type: 'person', ...dob },
    expect: [],
  })
}
// yente synthetic negatives (global and US).
for (const f of ['yente-negatives_global_1k.csv', 'yente-negatives_us_1k.csv']) {
  csv(f).forEach((row, i) => {
    const country = countryCodeOf(row['nationality'] ?? '')
    const raw = row['date_of_birth'] ?? ''
    const dob = validDob(raw) ? { dob: raw } : {}
    add({
      key: `${f}:${i}`,
      category: f.includes('global') ? 'yente-negative-global' : 'yente-negative-us',
      positive: false,
      query: {
        name: row['full_name'] ?? '',
        type: 'person',
        ...dob,
        ...(country !== undefined ? { country } : {}),
      },
      expect: [],
    })
  })
}

writeFileSync(out, cases.map((c) => JSON.stringify(c)).join('\n') + '\n')
const by = new Map<string, number>()
for (const c of cases) by.set(c.category, (by.get(c.category) ?? 0) + 1)
console.log(`${cases.length} cases -> ${out}`)
for (const [k, v] of [...by].sort()) console.log(`  ${k.padEnd(28)} ${v}`)
