/**
 * OFAC legacy CSV: the SDN list (`sdn.csv` + `alt.csv` + `add.csv` +
 * `sdn_comments.csv`) and the Consolidated non-SDN list (`cons_prim.csv`,
 * `cons_alt.csv`, `cons_add.csv`, `cons_comments.csv`), joined on ent_num.
 * Layout: `ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type,
 * Tonnage, GRT, Vess_flag, Vess_owner, Remarks`; `-0-` is empty; CRLF; the
 * file ends in 0x1A. DOB, nationality, identifiers and "Linked To" live only
 * inside Remarks, which overflow into the comments file.
 */
import type { Readable } from 'node:stream'
import { parseBirthDate } from './birth-date.ts'
import { countryCode } from './countries.ts'
import { csvRows } from './csv-rows.ts'
import {
  EntityType,
  NameKind,
  scriptOf,
  type BirthDate,
  type Entity,
  type EntityName,
  type Identifier,
  type ListId,
  type ParseResult,
  type SkippedRow,
} from './model.ts'

export interface OfacSources {
  readonly primary: Readable
  readonly alt?: Readable
  readonly add?: Readable
  readonly comments?: Readable
}

export interface ParsedRemarks {
  readonly birthDates: BirthDate[]
  readonly countries: string[]
  readonly identifiers: Identifier[]
  readonly linkedTo: string[]
  /** a.k.a. values quoted in Remarks: OFAC's weak (low-quality) aliases. */
  readonly weakAkas: string[]
}

const identifierTypes = [
  'Passport',
  'National ID No.',
  'Tax ID No.',
  'Registration Number',
  'Registration ID',
  'SWIFT/BIC',
  'Legal Entity Number',
  'Vessel Registration Identification',
  'IMO',
  'Cedula No.',
  'Identification Number',
  'Business Registration Number',
  'Company Number',
  'C.U.R.P.',
  'R.F.C.',
  'NIT #',
  'D-U-N-S Number',
  'MMSI',
  "Driver's License No.",
  'Personal ID Card',
  'Residency Number',
  'Trade License No.',
  "Aircraft Manufacturer's Serial Number (MSN)",
  'Unified Social Credit Code (USCC)',
  'Government Gazette Number',
  'Public Registration Number',
  "Citizen's Card Number",
  'Economic Register Number (CBLS)',
  'Chinese Commercial Code',
  'Stateless Person ID Card',
  'Certificate of Incorporation Number',
  'Kenyan ID No.',
  'Identification Card',
  'Birth Certificate Number',
  'Matricula Mercantil No',
  'Serial No.',
  'Commercial Registry Number',
  'Enterprise Number',
  'Bosnian Personal ID No.',
  'US FEIN',
  'UK Company Number',
  'Tax Registration Number',
  'Folio Mercantil No.',
  'RUC #',
]

/** Parses the free-text Remarks column. Unknown parts are ignored. */
export function parseRemarks(remarks: string): ParsedRemarks {
  const out: ParsedRemarks = {
    birthDates: [],
    countries: [],
    identifiers: [],
    linkedTo: [],
    weakAkas: [],
  }
  for (const rawPart of remarks.split(';')) {
    const part = rawPart
      .trim()
      .replace(/^alt\.\s+/, '')
      .replace(/\.$/, '')
    let m: RegExpExecArray | null
    if ((m = /^DOB (.+)$/.exec(part))) {
      const d = parseBirthDate(m[1] ?? '')
      if (d) out.birthDates.push(d)
    } else if ((m = /^(?:nationality|citizen|Nationality of Registration) (.+)$/.exec(part))) {
      const c = countryCode(m[1] ?? '')
      if (c && !out.countries.includes(c)) out.countries.push(c)
    } else if ((m = /^Linked To: (.+)$/.exec(part))) {
      out.linkedTo.push((m[1] ?? '').trim())
    } else if ((m = /^[af]\.k\.a\.,? '(.+)'$/.exec(part))) {
      out.weakAkas.push(m[1] ?? '')
    } else {
      const type = identifierTypes.find((t) => part.startsWith(t + ' '))
      if (type !== undefined) {
        const rest = part.slice(type.length + 1).trim()
        const cm = /^(.*?)\s*\(([^()]+)\)\s*$/.exec(rest)
        const value = (cm ? (cm[1] ?? '') : rest).trim()
        const country = cm ? countryCode(cm[2] ?? '') : undefined
        if (value !== '') out.identifiers.push(country ? { type, value, country } : { type, value })
      }
    }
  }
  return out
}

function empty(v: string | undefined): string {
  const t = (v ?? '').trim()
  return t === '-0-' ? '' : t
}

function entityType(t: string): EntityType {
  switch (t.toLowerCase()) {
    case 'individual':
      return EntityType.Person
    case 'vessel':
      return EntityType.Vessel
    case 'aircraft':
      return EntityType.Aircraft
    default:
      return EntityType.Organization
  }
}

interface Row {
  readonly name: string
  readonly type: EntityType
  readonly programs: string[]
  remarks: string
  readonly names: EntityName[]
  readonly countries: string[]
  readonly addresses: string[]
}

function isControl(fields: readonly string[]): boolean {
  return (
    fields.length === 1 && (fields[0] ?? '').replaceAll(String.fromCharCode(0x1a), '').trim() === ''
  )
}

/**
 * @example
 * ```ts
 * const r = await parseOfac('us-ofac-sdn', { primary: createReadStream('sdn.csv') })
 * r.entities[0]?.id // 'us-ofac-sdn:36'
 * ```
 */
export async function parseOfac(list: ListId, src: OfacSources): Promise<ParseResult> {
  const skipped: SkippedRow[] = []
  const rows = new Map<string, Row>()
  for await (const { fields, line } of csvRows(src.primary, `${list} primary file`)) {
    if (isControl(fields)) continue
    const ent = (fields[0] ?? '').trim()
    const name = empty(fields[1])
    if (!/^\d+$/.test(ent)) {
      skipped.push({ line, reason: `ent_num '${ent.slice(0, 20)}' is not a number` })
      continue
    }
    if (name === '') {
      skipped.push({ line, reason: `entry ${ent} has no name` })
      continue
    }
    const program = empty(fields[3])
    const vessFlag = empty(fields[9])
    const countries: string[] = []
    const flag = vessFlag !== '' ? countryCode(vessFlag) : undefined
    if (flag) countries.push(flag)
    rows.set(ent, {
      name,
      type: entityType(empty(fields[2])),
      programs:
        program === '' ? [] : program.split('] [').map((p) => p.replace(/[[\]]/g, '').trim()),
      remarks: empty(fields[11]),
      names: [{ full: name, kind: NameKind.Primary, script: scriptOf(name) }],
      countries,
      addresses: [],
    })
  }
  if (src.comments) {
    for await (const { fields } of csvRows(src.comments, `${list} comments file`)) {
      const row = rows.get((fields[0] ?? '').trim())
      // A continuation, cut mid-word: append verbatim.
      const more = fields[1] ?? ''
      if (row && more.trim() !== '-0-') row.remarks += more
    }
  }
  if (src.alt) {
    for await (const { fields } of csvRows(src.alt, `${list} alt file`)) {
      const row = rows.get((fields[0] ?? '').trim())
      const name = empty(fields[3])
      if (!row || name === '') continue
      const t = empty(fields[2]).toLowerCase()
      const kind = t === 'fka' ? NameKind.Fka : t === 'nka' ? NameKind.Nka : NameKind.Aka
      row.names.push({ full: name, kind, script: scriptOf(name) })
    }
  }
  if (src.add) {
    for await (const { fields } of csvRows(src.add, `${list} address file`)) {
      const row = rows.get((fields[0] ?? '').trim())
      if (!row) continue
      const parts = [empty(fields[2]), empty(fields[3]), empty(fields[4])].filter((p) => p !== '')
      if (parts.length > 0) row.addresses.push(parts.join(', '))
      const c = countryCode(empty(fields[4]))
      if (c && !row.countries.includes(c)) row.countries.push(c)
    }
  }
  const entities: Entity[] = []
  for (const [ent, row] of rows) {
    const r = parseRemarks(row.remarks)
    const names = [...row.names]
    for (const w of r.weakAkas) {
      names.push({ full: w, kind: NameKind.Aka, script: scriptOf(w), isWeak: true })
    }
    const countries = [...row.countries]
    for (const c of r.countries) if (!countries.includes(c)) countries.push(c)
    for (const id of r.identifiers) {
      if (
        id.country !== undefined &&
        !countries.includes(id.country) &&
        row.type !== EntityType.Person
      )
        countries.push(id.country)
    }
    entities.push({
      id: `${list}:${ent}`,
      list,
      type: row.type,
      names,
      birthDates: r.birthDates,
      countries,
      identifiers: r.identifiers,
      addresses: row.addresses,
      programs: row.programs,
      linkedTo: r.linkedTo,
      ...(row.remarks !== '' ? { remarks: row.remarks } : {}),
    })
  }
  return { entities, skipped }
}
