import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  currentAge,
  freshnessLifetime,
  isStorable,
  updateHeaders,
  usability,
  validatorsOf,
  varyNames,
  varyValues,
  type HeaderMap,
  type StoredResponse,
} from './policy.ts'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const date = (offsetS: number): string => new Date(T0 + offsetS * 1000).toUTCString()
const stored = (headers: HeaderMap, status = 200, at = T0): StoredResponse => ({
  status,
  headers: { date: new Date(at).toUTCString(), ...headers },
  requestTime: at,
  responseTime: at,
})

test('isStorable(): methods, status codes, no-store, private, Vary: *, Set-Cookie (RFC 9111 §3)', () => {
  const ok = { 'cache-control': 'max-age=60' }
  assert.equal(isStorable('GET', {}, 200, ok), true)
  assert.equal(isStorable('HEAD', {}, 200, ok), false)
  assert.equal(isStorable('POST', {}, 200, ok), false)
  assert.equal(isStorable('GET', {}, 206, ok), false)
  assert.equal(isStorable('GET', {}, 304, ok), false)
  assert.equal(isStorable('GET', {}, 599, ok), false)
  assert.equal(isStorable('GET', {}, 200, { 'cache-control': 'max-age=60, no-store' }), false)
  assert.equal(isStorable('GET', { 'cache-control': 'no-store' }, 200, ok), false)
  assert.equal(isStorable('GET', {}, 200, { 'cache-control': 'private, max-age=60' }), false)
  assert.equal(isStorable('GET', {}, 200, { ...ok, vary: 'accept, *' }), false)
  assert.equal(isStorable('GET', {}, 200, { ...ok, 'set-cookie': ['a=b'] }), false)
  assert.equal(
    isStorable('GET', {}, 200, { 'cache-control': 'public, max-age=6', 'set-cookie': 'a' }),
    true,
  )
  // No explicit freshness, no validator: nothing to compute freshness from.
  assert.equal(isStorable('GET', {}, 200, {}), false)
  assert.equal(isStorable('GET', {}, 200, { etag: '"x"' }), true)
  assert.equal(isStorable('GET', {}, 302, { 'last-modified': date(-100) }), false)
  assert.equal(isStorable('GET', {}, 302, { expires: date(100) }), true)
})

test('isStorable(): a request with Authorization needs public, s-maxage or must-revalidate (RFC 9111 §3.5)', () => {
  const auth = { authorization: 'Bearer x' }
  assert.equal(isStorable('GET', auth, 200, { 'cache-control': 'max-age=60' }), false)
  assert.equal(isStorable('GET', auth, 200, { 'cache-control': 'public, max-age=60' }), true)
  assert.equal(isStorable('GET', auth, 200, { 'cache-control': 's-maxage=60' }), true)
  assert.equal(
    isStorable('GET', auth, 200, { 'cache-control': 'max-age=60, must-revalidate' }),
    true,
  )
})

test('freshnessLifetime(): s-maxage > max-age > Expires > 10% heuristic (RFC 9111 §4.2.1, §4.2.2)', () => {
  assert.equal(freshnessLifetime(stored({ 'cache-control': 'max-age=60, s-maxage=10' })), 10)
  assert.equal(freshnessLifetime(stored({ 'cache-control': 'max-age=60', expires: date(999) })), 60)
  assert.equal(freshnessLifetime(stored({ expires: date(120) })), 120)
  assert.equal(freshnessLifetime(stored({ expires: '0' })), 0)
  assert.equal(freshnessLifetime(stored({ expires: date(-5) })), 0)
  assert.equal(freshnessLifetime(stored({ 'last-modified': date(-1000) })), 100)
  // Heuristics only for heuristically cacheable codes.
  assert.equal(freshnessLifetime(stored({ 'last-modified': date(-1000) }, 302)), 0)
  assert.equal(freshnessLifetime(stored({ etag: '"a"' })), 0)
})

test('currentAge(): Age header, response delay and resident time (RFC 9111 §4.2.3)', () => {
  const s: StoredResponse = {
    status: 200,
    headers: { date: date(0), age: '30' },
    requestTime: T0,
    responseTime: T0 + 2000,
  }
  // corrected_initial_age = max(apparent 2, 30 + 2) = 32; resident 10
  assert.equal(currentAge(s, T0 + 12_000), 42)
  // A Date in the future (clock skew) does not produce a negative age.
  assert.equal(currentAge(stored({ date: date(500) }), T0), 0)
})

test('usability(): fresh, stale, request max-age / min-fresh / no-cache / max-stale', () => {
  const s = stored({ 'cache-control': 'max-age=100' })
  assert.equal(usability(s, {}, T0 + 50_000).fresh, true)
  assert.equal(usability(s, {}, T0 + 100_000).fresh, false)
  assert.equal(usability(s, { 'cache-control': 'max-age=10' }, T0 + 50_000).fresh, false)
  assert.equal(usability(s, { 'cache-control': 'min-fresh=60' }, T0 + 50_000).fresh, false)
  assert.equal(usability(s, { 'cache-control': 'no-cache' }, T0).fresh, false)
  assert.equal(usability(s, { pragma: 'no-cache' }, T0).fresh, false)
  assert.equal(usability(s, { 'cache-control': 'max-stale=30' }, T0 + 120_000).fresh, true)
  assert.equal(usability(s, { 'cache-control': 'max-stale=10' }, T0 + 120_000).fresh, false)
  assert.equal(usability(stored({ 'cache-control': 'no-cache, max-age=100' }), {}, T0).fresh, false)
})

test('usability(): stale-while-revalidate and stale-if-error windows; must-revalidate forbids both', () => {
  const s = stored({ 'cache-control': 'max-age=10, stale-while-revalidate=20, stale-if-error=100' })
  const at15 = usability(s, {}, T0 + 15_000)
  assert.equal(at15.fresh, false)
  assert.equal(at15.staleWhileRevalidate, true)
  assert.equal(at15.staleIfError, true)
  const at50 = usability(s, {}, T0 + 50_000)
  assert.equal(at50.staleWhileRevalidate, false)
  assert.equal(at50.staleIfError, true)
  assert.equal(usability(s, {}, T0 + 200_000).staleIfError, false)
  for (const cc of ['must-revalidate', 'proxy-revalidate', 's-maxage=10']) {
    const m = stored({
      'cache-control': `max-age=10, ${cc}, stale-while-revalidate=20, stale-if-error=100`,
    })
    const u = usability(m, {}, T0 + 15_000)
    assert.equal(u.staleWhileRevalidate, false, cc)
    assert.equal(u.staleIfError, false, cc)
  }
  // A request's stale-if-error applies too.
  const plain = stored({ 'cache-control': 'max-age=10' })
  assert.equal(
    usability(plain, { 'cache-control': 'stale-if-error=60' }, T0 + 30_000).staleIfError,
    true,
  )
})

test('validatorsOf() and updateHeaders() (RFC 9111 §4.3.1, §4.3.4)', () => {
  const s = stored({ etag: '"v1"', 'last-modified': date(-60), 'content-length': '5', 'x-a': '1' })
  assert.deepEqual(validatorsOf(s), { 'if-none-match': '"v1"', 'if-modified-since': date(-60) })
  const u = updateHeaders(s.headers, {
    'content-length': '0',
    'cache-control': 'max-age=5',
    'x-a': '2',
  })
  assert.equal(u['content-length'], '5')
  assert.equal(u['cache-control'], 'max-age=5')
  assert.equal(u['x-a'], '2')
})

test('varyNames()/varyValues(): normalised secondary keys (RFC 9111 §4.1)', () => {
  assert.deepEqual(varyNames({ vary: 'Accept-Encoding, accept-language' }), [
    'accept-encoding',
    'accept-language',
  ])
  assert.deepEqual(
    varyValues(['accept-encoding', 'x-absent'], { 'accept-encoding': 'gzip ,  br' }),
    {
      'accept-encoding': 'gzip,br',
      'x-absent': '',
    },
  )
})

test('currentAge() never decreases as time passes, and usability() never throws (property)', () => {
  const hdr = fc.record(
    {
      'cache-control': fc.string({ maxLength: 60 }),
      expires: fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.integer({ min: -1e6, max: 1e6 }).map(date),
      ),
      age: fc.string({ maxLength: 8 }),
      'last-modified': fc.integer({ min: -1e7, max: 0 }).map(date),
      date: fc.integer({ min: -1e4, max: 1e4 }).map(date),
    },
    { requiredKeys: [] },
  )
  fc.assert(
    fc.property(hdr, fc.nat(1e6), fc.nat(1e6), (h, a, b) => {
      const s = stored(h)
      const [t1, t2] = a < b ? [a, b] : [b, a]
      assert.ok(currentAge(s, T0 + t1 * 1000) <= currentAge(s, T0 + t2 * 1000))
      const u = usability(s, {}, T0 + t1 * 1000)
      assert.ok(u.age >= 0 && u.lifetime >= 0)
      if (u.fresh) assert.ok(!u.mustRevalidate)
    }),
  )
})
