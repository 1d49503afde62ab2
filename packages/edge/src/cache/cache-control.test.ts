import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { deltaSeconds, fieldNames, parseCacheControl } from './cache-control.ts'

test('parseCacheControl() reads tokens, arguments, quoted strings and several lines', () => {
  const d = parseCacheControl(['Max-Age=60, no-cache', 'private="set-cookie, x-a", s-maxage = 5'])
  assert.equal(d.get('max-age'), '60')
  assert.equal(d.get('no-cache'), true)
  assert.equal(d.get('private'), 'set-cookie, x-a')
  assert.equal(d.get('s-maxage'), '5')
  assert.deepEqual(fieldNames(d, 'private'), ['set-cookie', 'x-a'])
})

test('parseCacheControl(): the first of duplicated directives wins; empty elements are skipped', () => {
  const d = parseCacheControl(',, max-age=10 ,max-age=99,')
  assert.equal(deltaSeconds(d, 'max-age'), 10)
  assert.equal(d.size, 1)
})

test('deltaSeconds() rejects non-digits and caps at 2^31', () => {
  assert.equal(deltaSeconds(parseCacheControl('max-age=-1'), 'max-age'), undefined)
  assert.equal(deltaSeconds(parseCacheControl('max-age=1.5'), 'max-age'), undefined)
  assert.equal(deltaSeconds(parseCacheControl('max-age'), 'max-age'), undefined)
  assert.equal(deltaSeconds(parseCacheControl('max-age=99999999999'), 'max-age'), 2147483648)
  assert.equal(deltaSeconds(parseCacheControl('max-age="30"'), 'max-age'), 30)
})

test('parseCacheControl() never throws and yields lower-case names without separators (property)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const d = parseCacheControl(s)
      for (const k of d.keys()) {
        assert.equal(k, k.toLowerCase())
        assert.ok(!k.includes(',') && !k.includes('='))
        assert.notEqual(k, '')
      }
    }),
  )
})

test('parseCacheControl() round-trips generated directive lists (property)', () => {
  const name = fc.stringMatching(/^[a-z][a-z-]{0,12}$/)
  const value = fc.oneof(
    fc.constant(true as const),
    fc.stringMatching(/^[0-9]{1,6}$/),
    fc.stringMatching(/^[a-z0-9 ,]{0,10}$/).map((s) => ({ q: s })),
  )
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(name, value), { selector: (t) => t[0], maxLength: 8 }),
      (items) => {
        const text = items
          .map(([n, v]) => (v === true ? n : typeof v === 'string' ? `${n}=${v}` : `${n}="${v.q}"`))
          .join(', ')
        const d = parseCacheControl(text)
        assert.equal(d.size, items.length)
        for (const [n, v] of items) {
          assert.equal(d.get(n), v === true ? true : typeof v === 'string' ? v : v.q)
        }
      },
    ),
  )
})
