import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createReadStream, readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import fc from 'fast-check'
import { ListParseError } from './errors.ts'
import { parseEu } from './eu.ts'
import { parseUn } from './un.ts'

const fx = (p: string) => new URL(`../test/fixtures/lists/${p}`, import.meta.url)
const unXml = readFileSync(fx('un-sc/consolidated_2026-02-27.xml'), 'utf8')
const euXml = readFileSync(fx('eu-fsf/eu-fsf_2026-11-20.xml'), 'utf8')

test('parseUn() reads individuals, entities, original script, weak aliases and dates', async () => {
  const r = await parseUn(createReadStream(fx('un-sc/consolidated_2026-02-27.xml')))
  assert.equal(r.date, '2026-02-27')
  assert.deepEqual(
    r.entities.map((e) => [e.id, e.type]),
    [
      ['un-sc:QDi.290', 'person'],
      ['un-sc:IQi.004', 'person'],
      ['un-sc:KPe.001', 'organization'],
    ],
  )
  assert.deepEqual(r.skipped, [{ line: 37, reason: 'IQi.999 has no name' }])
  const umarov = r.entities[0]
  assert.ok(umarov)
  assert.deepEqual(
    umarov.names.map((n) => [n.full, n.script, n.isWeak === true]),
    [
      ['DOKU KHAMATOVICH UMAROV', 'latin', false],
      ['Умаров Доку Хаматович', 'cyrillic', false],
      ['Dokka Umarov', 'latin', false],
      ['Abu Usman', 'latin', true],
    ],
  )
  assert.deepEqual(umarov.birthDates, [{ year: 1964, month: 4, day: 13 }])
  assert.deepEqual(umarov.countries, ['RU'])
  assert.deepEqual(umarov.identifiers, [{ type: 'Passport', value: '96 03 464086', country: 'RU' }])
  const tikriti = r.entities[1]
  assert.ok(tikriti)
  assert.deepEqual(tikriti.birthDates, [{ year: 1956, toYear: 1958 }])
  assert.equal(tikriti.names[1]?.script, 'arabic')
  assert.deepEqual(r.entities[2]?.countries, ['KP'])
})

test('parseEu() reads sanctionEntity name aliases in Latin and Cyrillic', async () => {
  const r = await parseEu(createReadStream(fx('eu-fsf/eu-fsf_2026-11-20.xml')))
  assert.equal(r.date, '2026-11-20')
  assert.deepEqual(
    r.entities.map((e) => [e.id, e.type, e.programs]),
    [
      ['eu-fsf:150321', 'person', ['UKR']],
      ['eu-fsf:160500', 'organization', ['UKR']],
    ],
  )
  assert.equal(r.skipped.length, 1)
  const k = r.entities[0]
  assert.deepEqual(
    k?.names.map((n) => n.script),
    ['latin', 'cyrillic', 'latin'],
  )
  assert.deepEqual(k.birthDates, [{ year: 1954, month: 4, day: 26 }])
  assert.deepEqual(k.countries, ['RU'])
  assert.deepEqual(r.entities[1]?.identifiers, [
    { type: 'regnumber', value: '1027700132195', country: 'RU' },
  ])
})

test('parseUn() and parseEu() reject a document with the wrong root element', async () => {
  await assert.rejects(parseUn(Readable.from(['<export></export>'])), ListParseError)
  await assert.rejects(parseEu(Readable.from(['<CONSOLIDATED_LIST/>'])), ListParseError)
  await assert.rejects(parseEu(Readable.from(['not xml at all'])), ListParseError)
})

function mutate(text: string, edits: { at: number; del: number; ins: string }[]): string {
  let s = text
  for (const e of edits) {
    const at = e.at % (s.length + 1)
    s = s.slice(0, at) + e.ins + s.slice(at + e.del)
  }
  return s
}

const edits = fc.array(
  fc.record({
    at: fc.nat(),
    del: fc.nat({ max: 20 }),
    ins: fc.oneof(
      fc.string({ maxLength: 5 }),
      fc.constantFrom('<', '>', '&', '"', '</INDIVIDUAL>', '<nameAlias '),
    ),
  }),
  { minLength: 1, maxLength: 4 },
)

for (const [name, parse, xml] of [
  ['parseUn()', parseUn, unXml],
  ['parseEu()', parseEu, euXml],
] as const) {
  test(`${name} on garbled XML either parses or throws ListParseError`, async () => {
    await fc.assert(
      fc.asyncProperty(edits, fc.integer({ min: 1, max: 64 }), async (es, chunk) => {
        const text = mutate(xml, es)
        const parts: string[] = []
        for (let i = 0; i < text.length; i += chunk * 37) parts.push(text.slice(i, i + chunk * 37))
        try {
          const r = await parse(Readable.from(parts))
          for (const e of r.entities) assert.ok(e.names.length > 0)
        } catch (e) {
          assert.ok(e instanceof ListParseError, String(e))
        }
      }),
      { numRuns: 150 },
    )
  })
}
