import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseProtection, ProtectionSchema } from './schema.ts'

test('an empty config is valid and permissive', () => {
  const p = parseProtection({})
  assert.equal(p.mode, 'enforce')
  assert.equal(p.rules.length, 0)
  assert.equal(p.challenge.difficulty <= 16, true)
  assert.equal(p.clearance.ttlSeconds <= 86_400, true)
})

test('rates accept "10r/s" and "30r/m"', () => {
  const p = parseProtection({
    rules: [
      { id: 'a', action: 'rate-limit', rateLimit: { rate: '10r/s', burst: 20 } },
      { id: 'b', action: 'rate-limit', rateLimit: { rate: '30r/m' } },
    ],
  })
  assert.equal(p.rules[0]?.rateLimit?.rate, 10)
  assert.equal(p.rules[1]?.rateLimit?.rate, 0.5)
})

test('errors name the field', () => {
  assert.throws(
    () => parseProtection({ rules: [{ id: 'x', action: 'rate-limit' }] }),
    /protection\.rules\.0\.rateLimit: action "rate-limit" needs a rateLimit/,
  )
  assert.throws(
    () => parseProtection({ rules: [{ id: 'x', action: 'block', match: { paths: ['api'] } }] }),
    /protection\.rules\.0\.match\.paths\.0/,
  )
  assert.throws(
    () => parseProtection({ clearance: { ttlSeconds: 90_000 } }),
    /protection\.clearance\.ttlSeconds/,
  )
  assert.throws(
    () =>
      parseProtection({
        rules: [
          { id: 'a', action: 'log' },
          { id: 'a', action: 'log' },
        ],
      }),
    /protection\.rules\.1\.id: duplicate rule id "a"/,
  )
  assert.throws(() => parseProtection({ bogus: 1 }), /protection: Unrecognized key/)
})

test('the schema is embeddable (safeParse on the exported object)', () => {
  const r = ProtectionSchema.safeParse({ mode: 'log' })
  assert.equal(r.success, true)
})
