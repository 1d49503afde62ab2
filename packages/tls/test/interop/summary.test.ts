import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseSummary, formatSummary, failedChecks } from './summary.ts'

const counts = fc.record({
  passed: fc.nat({ max: 100_000 }),
  failed: fc.nat({ max: 100_000 }),
  skipped: fc.nat({ max: 100_000 }),
})

test('parseSummary reads what formatSummary writes, after any other output', () => {
  fc.assert(
    fc.property(counts, fc.array(fc.string()), (s, before) => {
      // Lines that are not summaries cannot contain a newline-free exact match by accident
      // often, but make sure: prefix each with a marker.
      const noise = before.map((l) => `ok   ${l.replace(/[\r\n]/g, ' ')}`)
      const text = [...noise, formatSummary(s), ''].join('\n')
      assert.deepEqual(parseSummary(text), { ...s })
    }),
  )
})

test('parseSummary takes the last summary line, not a quoted earlier one', () => {
  const text = '     | 3 passed, 0 failed\n1 passed, 2 failed\nokay trailer\n'
  assert.deepEqual(parseSummary(text), { passed: 1, failed: 2, skipped: 0 })
  assert.deepEqual(parseSummary('7 passed, 0 failed\n2 passed, 1 failed, 4 skipped\n'), {
    passed: 2,
    failed: 1,
    skipped: 4,
  })
})

test('parseSummary returns undefined without a whole summary line', () => {
  for (const t of [
    '',
    'ok   x\n',
    '25 passed, 0 failed, skipped\n',
    'x 25 passed, 0 failed\n',
    '25 passed, 0 failed.\n',
    '25 passed\n',
  ]) {
    assert.equal(parseSummary(t), undefined, JSON.stringify(t))
  }
})

test('parseSummary never throws on arbitrary text', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (t) => {
      const r = parseSummary(t)
      assert.ok(r === undefined || (r.passed >= 0 && r.failed >= 0 && r.skipped >= 0))
    }),
  )
})

test('failedChecks lists the FAIL lines without their marker', () => {
  const out = 'ok   a\nFAIL node-tls X25519: boom\nskip c\nFAIL curl: no HTTP 200 response\n'
  assert.deepEqual(failedChecks(out), ['node-tls X25519: boom', 'curl: no HTTP 200 response'])
})
