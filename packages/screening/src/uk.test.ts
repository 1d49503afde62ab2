import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createReadStream, readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import fc from 'fast-check'
import { ListParseError } from './errors.ts'
import { parseUk } from './uk.ts'

const file = new URL('../test/fixtures/lists/uk/UK-Sanctions-List_2026-11-20.csv', import.meta.url)

test('parseUk() groups name rows by Unique ID and reads non-latin names', async () => {
  const r = await parseUk(createReadStream(file))
  assert.equal(r.date, '2026-11-20')
  assert.deepEqual(
    r.entities.map((e) => [e.id, e.type]),
    [
      ['uk:RUS0204', 'person'],
      ['uk:RUS0254', 'organization'],
      ['uk:RUS1600', 'vessel'],
    ],
  )
  assert.deepEqual(
    r.skipped.map((s) => s.reason),
    ["RUS9999: unknown Designation Type 'Spaceship'"],
  )
  const putin = r.entities[0]
  assert.deepEqual(
    putin?.names.map((n) => [n.full, n.kind, n.script, n.isWeak === true]),
    [
      ['Vladimir Vladimirovich PUTIN', 'primary', 'latin', false],
      ['Владимир Владимирович ПУТИН', 'aka', 'cyrillic', false],
      ['Vladimir POUTINE', 'aka', 'latin', true],
    ],
  )
  assert.deepEqual(putin.birthDates, [{ year: 1952, month: 10, day: 7 }])
  assert.deepEqual(putin.countries, ['RU'])
  assert.deepEqual(putin.programs, ['Russia'])
  assert.deepEqual(r.entities[1]?.identifiers, [
    { type: 'Registration Number', value: '1027700132195' },
  ])
})

test('parseUk() rejects a file without the required header columns', async () => {
  await assert.rejects(
    parseUk(Readable.from(['Report Date: 01-Jan-2026\r\nfoo,bar\r\n1,2\r\n'])),
    /no 'unique id' column/,
  )
})

const header = readFileSync(file, 'utf8').split('\r\n').slice(0, 2).join('\r\n')
const cell = fc.string({ maxLength: 12 }).map((s) => s.replace(/[\p{Cc}"]/gu, ' '))

test('parseUk() round-trips generated rows', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(
        fc.record({
          id: fc.stringMatching(/^[A-Z]{3}\d{4}$/),
          surname: cell.filter((s) => s.trim() !== ''),
          given: cell,
          type: fc.constantFrom('Individual', 'Entity', 'Ship'),
        }),
        { selector: (r) => r.id, maxLength: 6 },
      ),
      async (rows) => {
        const cols = header.split('\r\n')[1]?.split(',') ?? []
        const lines = rows.map((r) => {
          const v: Record<string, string> = {
            'Unique ID': r.id,
            'Name 6': r.surname,
            'Name 1': r.given,
            'Name type': 'Primary Name',
            'Designation Type': r.type,
          }
          return cols.map((c) => `"${v[c] ?? ''}"`).join(',')
        })
        const out = await parseUk(Readable.from([[header, ...lines].join('\r\n')]))
        assert.deepEqual(
          out.entities.map((e) => [e.id, e.names[0]?.full]),
          rows.map((r) => [
            `uk:${r.id}`,
            [r.given.trim(), r.surname.trim()].filter((x) => x).join(' '),
          ]),
        )
      },
    ),
    { numRuns: 100 },
  )
})

test('parseUk() on random text either parses or throws ListParseError', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 400 }), async (s) => {
      try {
        await parseUk(Readable.from([header + '\r\n' + s]))
      } catch (e) {
        assert.ok(e instanceof ListParseError, String(e))
      }
    }),
    { numRuns: 200 },
  )
})
