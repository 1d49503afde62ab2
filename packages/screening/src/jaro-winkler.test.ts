import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { jaroWinkler } from './jaro-winkler.ts'

// Reference values from Winkler (1990) / the Wikipedia worked examples.
const golden: [string, string, number][] = [
  ['martha', 'marhta', 0.961],
  ['dwayne', 'duane', 0.84],
  ['dixon', 'dicksonx', 0.813],
  ['abc', 'xyz', 0],
  ['same', 'same', 1],
]

test('jaroWinkler() matches published reference values to 3 decimals', () => {
  for (const [a, b, want] of golden) {
    assert.equal(Number(jaroWinkler(a, b).toFixed(3)), want, `${a} / ${b}`)
  }
})

test('jaroWinkler() is symmetric and bounded in [0, 1]', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), (a, b) => {
      const x = jaroWinkler(a, b)
      assert.ok(x >= 0 && x <= 1)
      assert.ok(Math.abs(x - jaroWinkler(b, a)) < 1e-12)
    }),
  )
})
