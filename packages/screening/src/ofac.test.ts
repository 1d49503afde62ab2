import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import fc from 'fast-check'
import { ListParseError } from './errors.ts'
import { parseOfac, parseRemarks } from './ofac.ts'

const dir = new URL('../test/fixtures/lists/us-ofac-sdn/', import.meta.url)
const open = (f: string) => createReadStream(new URL(f, dir))

test('parseOfac() joins sdn, alt, add and comments on ent_num', async () => {
  const r = await parseOfac('us-ofac-sdn', {
    primary: open('sdn_2024-05-03.csv'),
    alt: open('alt_2024-05-03.csv'),
    add: open('add_2024-05-03.csv'),
    comments: open('sdn_comments_2024-05-03.csv'),
  })
  assert.equal(r.entities.length, 6)
  assert.deepEqual(r.skipped, [])
  const sber = r.entities.find((e) => e.id === 'us-ofac-sdn:17018')
  assert.ok(sber)
  assert.equal(sber.type, 'organization')
  assert.deepEqual(sber.programs, ['UKRAINE-EO13662', 'RUSSIA-EO14024'])
  assert.deepEqual(
    sber.names.map((n) => [n.full, n.kind, n.isWeak === true]),
    [
      ['PUBLIC JOINT STOCK COMPANY SBERBANK OF RUSSIA', 'primary', false],
      ['SBERBANK ROSSII', 'aka', false],
      ['OTKRYTOE AKTSIONERNOE OBSHCHESTVO SBERBANK ROSSII', 'fka', false],
      ['SBERBANK INDIA', 'aka', true],
    ],
  )
  assert.deepEqual(sber.countries, ['RU'])
  assert.deepEqual(sber.addresses, ['19 ul. Vavilova, Moscow 117312, Russia'])
  assert.ok(sber.identifiers.some((i) => i.type === 'Tax ID No.' && i.value === '7707083893'))
  const putin = r.entities.find((e) => e.id === 'us-ofac-sdn:22146')
  assert.equal(putin?.type, 'person')
  assert.deepEqual(putin.birthDates, [{ year: 1952, month: 10, day: 7 }])
  const kh = r.entities.find((e) => e.id === 'us-ofac-sdn:9647')
  assert.deepEqual(kh?.linkedTo, ['PUBLIC JOINT STOCK COMPANY SBERBANK OF RUSSIA'])
  assert.match(kh.remarks ?? '', /SBERBANK OF RUSSIA; Listing Date: 01 Jan 2020\.$/)
  assert.deepEqual(kh.birthDates, [
    { year: 1962, toYear: 1964 },
    { year: 1960, toYear: 1962 },
  ])
  assert.equal(r.entities.find((e) => e.id === 'us-ofac-sdn:15036')?.type, 'organization')
  assert.equal(r.entities.find((e) => e.id === 'us-ofac-sdn:30001')?.type, 'aircraft')
})

test('parseRemarks() reads DOB, nationality, identifiers, Linked To and weak akas', () => {
  const r = parseRemarks(
    "DOB 21 Mar 1950; alt. DOB Mar 1951; POB Moscow, Russia; nationality Russia; Passport 7012345 (Russia); Linked To: ACME LLC; a.k.a. 'Vova'.",
  )
  assert.deepEqual(r.birthDates, [
    { year: 1950, month: 3, day: 21 },
    { year: 1951, month: 3 },
  ])
  assert.deepEqual(r.countries, ['RU'])
  assert.deepEqual(r.identifiers, [{ type: 'Passport', value: '7012345', country: 'RU' }])
  assert.deepEqual(r.linkedTo, ['ACME LLC'])
  assert.deepEqual(r.weakAkas, ['Vova'])
})

test('parseOfac() skips rows without an ent_num or a name, with a reason', async () => {
  const csv = '"x","NAME",-0- \r\n12,-0- ,-0- \r\n13,"OK NAME",-0- \r\n\x1a'
  const r = await parseOfac('us-ofac-sdn', { primary: Readable.from([csv]) })
  assert.deepEqual(
    r.entities.map((e) => e.id),
    ['us-ofac-sdn:13'],
  )
  assert.deepEqual(
    r.skipped.map((s) => s.reason),
    ["ent_num 'x' is not a number", 'entry 12 has no name'],
  )
})

const field = fc
  .string({ minLength: 1, maxLength: 20 })
  .map((s) => s.replace(/[\p{Cc}"]/gu, 'x').trim() || 'X')

test('parseOfac() round-trips CSV rows written in the OFAC layout', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(
        fc.record({
          ent: fc.integer({ min: 1, max: 999999 }),
          name: field,
          type: fc.constantFrom('individual', 'vessel', 'aircraft', '-0- '),
          programs: fc.array(
            field.map((p) => p.replace(/[[\]]/g, 'x')),
            { minLength: 1, maxLength: 3 },
          ),
          year: fc.integer({ min: 1900, max: 2020 }),
        }),
        { selector: (r) => r.ent, maxLength: 8 },
      ),
      async (rows) => {
        const csv = rows
          .map((r) => {
            const type = r.type === '-0- ' ? '-0- ' : `"${r.type}"`
            return `${r.ent},"${r.name}",${type},"${r.programs.join('] [')}",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB ${r.year}."`
          })
          .join('\r\n')
        const out = await parseOfac('us-ofac-sdn', { primary: Readable.from([csv + '\r\n\x1a']) })
        assert.deepEqual(
          out.entities.map((e) => [e.id, e.names[0]?.full, e.programs, e.birthDates[0]?.year]),
          rows.map((r) => [
            `us-ofac-sdn:${r.ent}`,
            r.name,
            r.programs.map((p) => p.trim()),
            r.year,
          ]),
        )
      },
    ),
    { numRuns: 100 },
  )
})

test('parseOfac() on random bytes either parses or throws ListParseError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
      try {
        const r = await parseOfac('us-ofac-sdn', { primary: Readable.from([Buffer.from(bytes)]) })
        for (const e of r.entities) assert.match(e.id, /^us-ofac-sdn:\d+$/)
      } catch (e) {
        assert.ok(e instanceof ListParseError, String(e))
      }
    }),
    { numRuns: 200 },
  )
})
