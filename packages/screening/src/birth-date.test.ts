import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { formatBirthDate, parseBirthDate } from './birth-date.ts'
import { countryCode } from './countries.ts'
import { parseRemarks } from './ofac.ts'

test('parseBirthDate() reads the list formats', () => {
  assert.deepEqual(parseBirthDate('21 Mar 1950'), { year: 1950, month: 3, day: 21 })
  assert.deepEqual(parseBirthDate('Mar 1950'), { year: 1950, month: 3 })
  assert.deepEqual(parseBirthDate('1962'), { year: 1962 })
  assert.deepEqual(parseBirthDate('circa 1960'), { year: 1959, toYear: 1961 })
  assert.deepEqual(parseBirthDate('1960 to 1965'), { year: 1960, toYear: 1965 })
  assert.deepEqual(parseBirthDate('07/10/1952'), { year: 1952, month: 10, day: 7 })
  assert.deepEqual(parseBirthDate('dd/mm/1952'), { year: 1952 })
  assert.equal(parseBirthDate('1965 to 1960'), undefined)
  assert.equal(parseBirthDate('yesterday'), undefined)
})

test('parseBirthDate() round-trips formatBirthDate() for exact dates', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1900, max: 2020 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 28 }),
      (year, month, day) => {
        assert.deepEqual(parseBirthDate(formatBirthDate({ year, month, day })), {
          year,
          month,
          day,
        })
      },
    ),
  )
})

test('parseBirthDate() and parseRemarks() never throw on random text', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => {
      parseBirthDate(s)
      const r = parseRemarks(s)
      for (const d of r.birthDates) assert.ok(d.year >= 1850 && d.year <= 2100)
    }),
    { numRuns: 500 },
  )
})

test('countryCode() maps list spellings and rejects unknown names', () => {
  assert.equal(countryCode('Russia'), 'RU')
  assert.equal(countryCode('Russian Federation'), 'RU')
  assert.equal(countryCode('Iran (Islamic Republic of)'), 'IR')
  assert.equal(countryCode("Democratic People's Republic of Korea"), 'KP')
  assert.equal(countryCode('ru'), 'RU')
  assert.equal(countryCode('Atlantis'), undefined)
  assert.equal(countryCode('SU'), undefined)
})
