/**
 * EU Financial Sanctions Files (FSF) consolidated XML,
 * `xmlFullSanctionsList_1_1`: `export[@generationDate]/sanctionEntity
 * [@euReferenceNumber,@logicalId]` with `subjectType[@code]`,
 * `nameAlias[@wholeName,@firstName,@middleName,@lastName,@nameLanguage,@strong]`,
 * `birthdate[@birthdate,@year,@circa]`, `citizenship[@countryIso2Code]`,
 * `identification[@number,@identificationTypeCode]`, `address` and
 * `regulation[@programme]`. Ids are `eu-fsf:<logicalId>`.
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
import { child, children, xmlRecords, type XNode } from './xml-records.ts'

function attr(n: XNode, k: string): string {
  return (n.attrs[k] ?? '').trim()
}

function entityType(code: string): EntityType {
  switch (code.toLowerCase()) {
    case 'person':
      return EntityType.Person
    case 'vessel':
      return EntityType.Vessel
    default:
      return EntityType.Organization
  }
}

function toEntity(n: XNode): Entity | string {
  const logicalId = attr(n, 'logicalId')
  if (!/^\d+$/.test(logicalId)) return 'sanctionEntity has no numeric logicalId'
  const subject = child(n, 'subjectType')
  const type = entityType(subject ? attr(subject, 'code') : '')
  const names: EntityName[] = []
  for (const a of children(n, 'nameAlias')) {
    let full = attr(a, 'wholeName')
    if (full === '') {
      full = ['firstName', 'middleName', 'lastName']
        .map((k) => attr(a, k))
        .filter((p) => p !== '')
        .join(' ')
    }
    if (full === '' || names.some((x) => x.full === full)) continue
    const isWeak = attr(a, 'strong') === 'false'
    names.push({
      full,
      kind: names.length === 0 ? NameKind.Primary : NameKind.Aka,
      script: scriptOf(full),
      ...(isWeak ? { isWeak: true } : {}),
    })
  }
  if (names.length === 0) return `sanctionEntity ${logicalId} has no name`
  const countries: string[] = []
  const add = (c: string | undefined) => {
    if (c !== undefined && !countries.includes(c)) countries.push(c)
  }
  for (const c of children(n, 'citizenship')) add(countryCode(attr(c, 'countryIso2Code')))
  const birthDates: BirthDate[] = []
  for (const b of children(n, 'birthdate')) {
    const d = parseBirthDate(attr(b, 'birthdate')) ?? parseBirthDate(attr(b, 'year'))
    if (!d) continue
    birthDates.push(attr(b, 'circa') === 'true' ? { year: d.year - 1, toYear: d.year + 1 } : d)
  }
  const identifiers: Identifier[] = []
  for (const i of children(n, 'identification')) {
    const value = attr(i, 'number')
    if (value === '') continue
    const country = countryCode(attr(i, 'countryIso2Code'))
    const idType = attr(i, 'identificationTypeCode') || 'id'
    identifiers.push(country ? { type: idType, value, country } : { type: idType, value })
  }
  const addresses: string[] = []
  for (const a of children(n, 'address')) {
    const line = ['street', 'city', 'zipCode', 'countryDescription']
      .map((k) => attr(a, k))
      .filter((p) => p !== '')
    if (line.length > 0) addresses.push(line.join(', '))
    if (type !== EntityType.Person) add(countryCode(attr(a, 'countryIso2Code')))
  }
  const programs = [
    ...new Set(
      children(n, 'regulation')
        .map((r) => attr(r, 'programme'))
        .filter((p) => p !== ''),
    ),
  ]
  const remark = children(n, 'remark')
    .map((r) => r.text.trim())
    .filter((t) => t !== '')
    .join(' ')
  return {
    id: `${ListId.EuFsf}:${logicalId}`,
    list: ListId.EuFsf,
    type,
    names,
    birthDates,
    countries,
    identifiers,
    addresses,
    programs,
    linkedTo: [],
    ...(remark !== '' ? { remarks: remark } : {}),
  }
}

/**
 * @example
 * ```ts
 * const { entities } = await parseEu(createReadStream('eu-fsf_2026-11-20.xml'))
 * ```
 */
export async function parseEu(input: Readable): Promise<ParseResult> {
  const stream = xmlRecords(input, new Set(['sanctionEntity']), 'EU FSF file')
  const entities: Entity[] = []
  const skipped: SkippedRow[] = []
  for await (const { node, line } of stream.records) {
    const e = toEntity(node)
    if (typeof e === 'string') skipped.push({ line, reason: e })
    else entities.push(e)
  }
  if (stream.root?.name !== 'export') {
    throw new ListParseError(
      `Cannot parse EU FSF file: root element is <${stream.root?.name ?? ''}>, not <export>`,
    )
  }
  const date = /^\d{4}-\d{2}-\d{2}/.exec(stream.root.attrs['generationDate'] ?? '')?.[0]
  return date !== undefined ? { entities, skipped, date } : { entities, skipped }
}
