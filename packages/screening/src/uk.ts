/**
 * UK Sanctions List CSV (FCDO; since 28 Jan 2026 also the OFSI list): a
 * `Report Date` line, then a header `Last Updated, Unique ID, OFSI Group ID,
 * UN Reference Number, Name 6, Name 1 … Name 5, Name type, Alias strength,
 * Title, Name non-latin script, …, Regime Name, Designation Type, …`, then one
 * row per name of a designation (rows share the Unique ID). Name 6 is the
 * surname or the entity name; Name 1–5 are given names. Columns are found by
 * header name, so added or reordered columns do not break the parser.
 */
import type { Readable } from 'node:stream'
import { parseBirthDate } from './birth-date.ts'
import { countryCode } from './countries.ts'
import { csvRows } from './csv-rows.ts'
import { ListParseError } from './errors.ts'
import {
  EntityType,
  ListId,
  NameKind,
  scriptOf,
  type BirthDate,
  type Entity,
  type EntityName,
  type Identifier,
  type ParseResult,
  type SkippedRow,
} from './model.ts'

interface Acc {
  type: EntityType
  names: EntityName[]
  birthDates: BirthDate[]
  countries: string[]
  identifiers: Identifier[]
  addresses: string[]
  programs: string[]
  remarks: string
}

function ukType(t: string): EntityType | undefined {
  switch (t.trim().toLowerCase()) {
    case 'individual':
      return EntityType.Person
    case 'entity':
      return EntityType.Organization
    case 'ship':
      return EntityType.Vessel
    default:
      return undefined
  }
}

const monthNames = [
  'jan',
  'feb',
  'mar',
  'apr',
  'may',
  'jun',
  'jul',
  'aug',
  'sep',
  'oct',
  'nov',
  'dec',
]

function reportDate(text: string): string | undefined {
  const iso = /(\d{4})-(\d{2})-(\d{2})/.exec(text)
  if (iso) return iso[0]
  const dmy = /(\d{1,2})[/-](\d{1,2}|[A-Za-z]{3})[/-](\d{4})/.exec(text)
  if (!dmy) return undefined
  const m = /^\d+$/.test(dmy[2] ?? '')
    ? Number(dmy[2])
    : monthNames.indexOf((dmy[2] ?? '').toLowerCase()) + 1
  if (m < 1 || m > 12) return undefined
  return `${dmy[3]}-${String(m).padStart(2, '0')}-${(dmy[1] ?? '').padStart(2, '0')}`
}

/**
 * @example
 * ```ts
 * const { entities, date } = await parseUk(createReadStream('UK-Sanctions-List.csv'))
 * ```
 */
export async function parseUk(input: Readable): Promise<ParseResult> {
  const skipped: SkippedRow[] = []
  const byId = new Map<string, Acc>()
  let header: Map<string, number> | undefined
  let date: string | undefined
  for await (const { fields, line } of csvRows(input, 'UK Sanctions List')) {
    if (!header) {
      const first = (fields[0] ?? '').trim()
      if (/^report date/i.test(first)) {
        date = reportDate(fields.join(' '))
        continue
      }
      const h = new Map(fields.map((f, i) => [f.trim().toLowerCase(), i] as const))
      for (const need of ['unique id', 'name 6', 'designation type']) {
        if (!h.has(need)) {
          throw new ListParseError(
            `Cannot parse UK Sanctions List: header (line ${line}) has no '${need}' column`,
          )
        }
      }
      header = h
      continue
    }
    const hdr = header
    const col = (name: string): string => {
      const i = hdr.get(name)
      return i === undefined ? '' : (fields[i] ?? '').trim()
    }
    const uid = col('unique id')
    if (uid === '') {
      skipped.push({ line, reason: 'row has no Unique ID' })
      continue
    }
    const type = ukType(col('designation type'))
    if (!type) {
      skipped.push({
        line,
        reason: `${uid}: unknown Designation Type '${col('designation type').slice(0, 30)}'`,
      })
      continue
    }
    let acc = byId.get(uid)
    if (!acc) {
      acc = {
        type,
        names: [],
        birthDates: [],
        countries: [],
        identifiers: [],
        addresses: [],
        programs: [],
        remarks: '',
      }
      byId.set(uid, acc)
    }
    const given = ['name 1', 'name 2', 'name 3', 'name 4', 'name 5']
      .map(col)
      .filter((p) => p !== '')
    const full = [...given, col('name 6')].filter((p) => p !== '').join(' ')
    const nameType = col('name type').toLowerCase()
    const isWeak = col('alias strength').toLowerCase().startsWith('weak')
    const kind = nameType.startsWith('primary') ? NameKind.Primary : NameKind.Aka
    const push = (n: string, k: typeof kind, weak: boolean) => {
      if (n !== '' && !acc.names.some((x) => x.full === n)) {
        acc.names.push({ full: n, kind: k, script: scriptOf(n), ...(weak ? { isWeak: true } : {}) })
      }
    }
    push(full, kind, isWeak)
    push(col('name non-latin script'), NameKind.Aka, false)
    for (const d of col('d.o.b').split(/[,;]/)) {
      const bd = parseBirthDate(d)
      if (bd && !acc.birthDates.some((x) => JSON.stringify(x) === JSON.stringify(bd)))
        acc.birthDates.push(bd)
    }
    const addCountry = (c: string | undefined) => {
      if (c !== undefined && !acc.countries.includes(c)) acc.countries.push(c)
    }
    for (const n of col('nationality(/ies)').split(/[,;]/))
      addCountry(countryCode(n.replace(/^\(\d+\)\s*/, '')))
    const addrCountry = col('address country')
    if (type !== EntityType.Person) addCountry(countryCode(addrCountry))
    const addr = [
      'address line 1',
      'address line 2',
      'address line 3',
      'address line 4',
      'address line 5',
      'address line 6',
      'address postal code',
      'address country',
    ]
      .map(col)
      .filter((p) => p !== '')
      .join(', ')
    if (addr !== '' && !acc.addresses.includes(addr)) acc.addresses.push(addr)
    for (const [column, idType] of [
      ['passport number', 'Passport'],
      ['national identifier number', 'National ID'],
      ['business registration number (s)', 'Registration Number'],
      ['imo number', 'IMO'],
    ] as const) {
      const v = col(column)
      if (v !== '' && !acc.identifiers.some((x) => x.value === v))
        acc.identifiers.push({ type: idType, value: v })
    }
    const regime = col('regime name')
    if (regime !== '' && !acc.programs.includes(regime)) acc.programs.push(regime)
    if (acc.remarks === '') acc.remarks = col('other information')
  }
  if (!header) throw new ListParseError('Cannot parse UK Sanctions List: no header row')
  const entities: Entity[] = []
  for (const [uid, a] of byId) {
    if (a.names.length === 0) {
      skipped.push({ line: 0, reason: `${uid} has no name` })
      continue
    }
    if (!a.names.some((n) => n.kind === NameKind.Primary)) {
      const [first, ...rest] = a.names
      if (first) a.names = [{ ...first, kind: NameKind.Primary }, ...rest]
    }
    entities.push({
      id: `${ListId.Uk}:${uid}`,
      list: ListId.Uk,
      type: a.type,
      names: a.names,
      birthDates: a.birthDates,
      countries: a.countries,
      identifiers: a.identifiers,
      addresses: a.addresses,
      programs: a.programs,
      linkedTo: [],
      ...(a.remarks !== '' ? { remarks: a.remarks } : {}),
    })
  }
  return date !== undefined ? { entities, skipped, date } : { entities, skipped }
}
