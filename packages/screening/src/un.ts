/**
 * UN Security Council Consolidated List XML:
 * `CONSOLIDATED_LIST[@dateGenerated]/INDIVIDUALS/INDIVIDUAL` and
 * `ENTITIES/ENTITY`, with `REFERENCE_NUMBER`, name parts `FIRST_NAME`..
 * `FOURTH_NAME`, `NAME_ORIGINAL_SCRIPT` (Arabic, Cyrillic...), aliases with a
 * quality ("Low" = weak), dates of birth (EXACT / APPROXIMATELY / BETWEEN),
 * nationality, documents and addresses.
 */
import type { Readable } from 'node:stream'
import { parseBirthDate } from './birth-date.ts'
import { countryCode } from './countries.ts'
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
import { children, textOf, xmlRecords, type XNode } from './xml-records.ts'

function birthDates(n: XNode): BirthDate[] {
  const out: BirthDate[] = []
  for (const d of children(n, 'INDIVIDUAL_DATE_OF_BIRTH')) {
    const type = textOf(d, 'TYPE_OF_DATE').toUpperCase()
    if (type === 'BETWEEN') {
      const from = Number(textOf(d, 'FROM_YEAR'))
      const to = Number(textOf(d, 'TO_YEAR'))
      if (from > 1800 && to >= from) out.push({ year: from, toYear: to })
      continue
    }
    const parsed = parseBirthDate(textOf(d, 'DATE')) ?? parseBirthDate(textOf(d, 'YEAR'))
    if (!parsed) continue
    if (type === 'APPROXIMATELY' && parsed.toYear === undefined) {
      out.push({ year: parsed.year - 1, toYear: parsed.year + 1 })
    } else out.push(parsed)
  }
  return out
}

function toEntity(n: XNode, isPerson: boolean): Entity | string {
  const ref = textOf(n, 'REFERENCE_NUMBER')
  if (ref === '') return 'record has no REFERENCE_NUMBER'
  const parts = ['FIRST_NAME', 'SECOND_NAME', 'THIRD_NAME', 'FOURTH_NAME']
    .map((p) => textOf(n, p))
    .filter((p) => p !== '')
  if (parts.length === 0) return `${ref} has no name`
  const primary = parts.join(' ')
  const names: EntityName[] = [{ full: primary, kind: NameKind.Primary, script: scriptOf(primary) }]
  const original = textOf(n, 'NAME_ORIGINAL_SCRIPT')
  if (original !== '')
    names.push({ full: original, kind: NameKind.Aka, script: scriptOf(original) })
  for (const a of children(n, isPerson ? 'INDIVIDUAL_ALIAS' : 'ENTITY_ALIAS')) {
    const full = textOf(a, 'ALIAS_NAME')
    if (full === '') continue
    const isWeak = /^(low|a\.k\.a\. low)/i.test(textOf(a, 'QUALITY'))
    names.push({
      full,
      kind: NameKind.Aka,
      script: scriptOf(full),
      ...(isWeak ? { isWeak: true } : {}),
    })
  }
  const countries: string[] = []
  const add = (c: string | undefined) => {
    if (c !== undefined && !countries.includes(c)) countries.push(c)
  }
  for (const nat of children(n, 'NATIONALITY')) {
    for (const v of children(nat, 'VALUE')) add(countryCode(v.text))
  }
  const addresses: string[] = []
  for (const a of children(n, isPerson ? 'INDIVIDUAL_ADDRESS' : 'ENTITY_ADDRESS')) {
    const line = ['STREET', 'CITY', 'STATE_PROVINCE', 'COUNTRY']
      .map((p) => textOf(a, p))
      .filter((p) => p !== '')
    if (line.length > 0) addresses.push(line.join(', '))
    if (!isPerson) add(countryCode(textOf(a, 'COUNTRY')))
  }
  const identifiers: Identifier[] = []
  for (const d of children(n, 'INDIVIDUAL_DOCUMENT')) {
    const value = textOf(d, 'NUMBER')
    if (value === '') continue
    const country = countryCode(textOf(d, 'ISSUING_COUNTRY'))
    const type = textOf(d, 'TYPE_OF_DOCUMENT') || 'Document'
    identifiers.push(country ? { type, value, country } : { type, value })
  }
  const remarks = textOf(n, 'COMMENTS1')
  return {
    id: `${ListId.UnSc}:${ref}`,
    list: ListId.UnSc,
    type: isPerson ? EntityType.Person : EntityType.Organization,
    names,
    birthDates: isPerson ? birthDates(n) : [],
    countries,
    identifiers,
    addresses,
    programs: [textOf(n, 'UN_LIST_TYPE')].filter((p) => p !== ''),
    linkedTo: [],
    ...(remarks !== '' ? { remarks } : {}),
  }
}

/**
 * @example
 * ```ts
 * const { entities, date } = await parseUn(createReadStream('consolidated.xml'))
 * ```
 */
export async function parseUn(input: Readable): Promise<ParseResult> {
  const stream = xmlRecords(input, new Set(['INDIVIDUAL', 'ENTITY']), 'UN consolidated list')
  const entities: Entity[] = []
  const skipped: SkippedRow[] = []
  for await (const { node, line } of stream.records) {
    if (stream.root && stream.root.name !== 'CONSOLIDATED_LIST') {
      throw new ListParseError(
        `Cannot parse UN consolidated list: root element is <${stream.root.name}>, not <CONSOLIDATED_LIST>`,
      )
    }
    const e = toEntity(node, node.name === 'INDIVIDUAL')
    if (typeof e === 'string') skipped.push({ line, reason: e })
    else entities.push(e)
  }
  if (stream.root?.name !== 'CONSOLIDATED_LIST') {
    throw new ListParseError(
      `Cannot parse UN consolidated list: root element is <${stream.root?.name ?? ''}>, not <CONSOLIDATED_LIST>`,
    )
  }
  const generated = stream.root.attrs['dateGenerated'] ?? ''
  const date = /^\d{4}-\d{2}-\d{2}/.exec(generated)?.[0]
  return date !== undefined ? { entities, skipped, date } : { entities, skipped }
}
