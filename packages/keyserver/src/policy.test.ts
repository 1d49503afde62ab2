import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ErrorCode, type PeerInfo } from './_keyless.ts'
import { OperationError } from './errors.ts'
import { checkPolicy, parseKeyPolicy, serverNameMatches } from './policy.ts'
import { TokenBuckets } from './rate-limit.ts'

const node = (region?: string, country?: string): PeerInfo => ({
  remoteAddress: '127.0.0.1',
  nodeId: 'n1',
  ...(region !== undefined ? { region } : {}),
  ...(country !== undefined ? { country } : {}),
})

function denied(fn: () => void, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OperationError)
    assert.equal(e.errorCode, ErrorCode.PolicyDenied)
    assert.match(e.message, re)
    return true
  })
}

test('checkPolicy() refuses nodes from denied countries and regions (P9)', () => {
  const p = parseKeyPolicy({ denyCountries: ['ru', 'BY', 'UA'], denyRegions: ['east'] })
  for (const cc of ['RU', 'BY', 'UA', 'ru'])
    denied(() => {
      checkPolicy(p, node('west', cc), undefined)
    }, /is denied/)
  denied(() => {
    checkPolicy(p, node('east', 'DE'), undefined)
  }, /region "east" is denied/)
  checkPolicy(p, node('west', 'DE'), undefined)
})

test('checkPolicy() lets deny win over allow', () => {
  const p = parseKeyPolicy({ allowCountries: ['DE', 'FR'], denyCountries: ['FR'] })
  checkPolicy(p, node('eu', 'DE'), undefined)
  denied(() => {
    checkPolicy(p, node('eu', 'FR'), undefined)
  }, /country "FR" is denied/)
  denied(() => {
    checkPolicy(p, node('eu', 'US'), undefined)
  }, /country "US" is not allowed/)
})

test('checkPolicy() refuses nodes without the attribute a policy restricts', () => {
  denied(() => {
    checkPolicy(parseKeyPolicy({ denyCountries: ['RU'] }), node('eu'), undefined)
  }, /has none/)
  denied(() => {
    checkPolicy(parseKeyPolicy({ allowRegions: ['eu'] }), node(undefined, 'DE'), undefined)
  }, /has none/)
  // An unrestricted attribute may be missing.
  checkPolicy(parseKeyPolicy({ allowRegions: ['eu'] }), node('eu'), undefined)
  checkPolicy(parseKeyPolicy({}), { remoteAddress: '127.0.0.1' }, undefined)
})

test('checkPolicy() matches allowed server names exactly or by one-label wildcard', () => {
  const p = parseKeyPolicy({ allowServerNames: ['example.com', '*.example.net'] })
  checkPolicy(p, node(), 'example.com')
  checkPolicy(p, node(), 'EXAMPLE.com')
  checkPolicy(p, node(), 'www.example.net')
  denied(() => {
    checkPolicy(p, node(), 'www.example.com')
  }, /"www.example.com" is not allowed/)
  denied(() => {
    checkPolicy(p, node(), 'a.b.example.net')
  }, /not allowed/)
  denied(() => {
    checkPolicy(p, node(), 'example.net')
  }, /not allowed/)
  denied(() => {
    checkPolicy(p, node(), undefined)
  }, /none was sent/)
})

test('serverNameMatches() does not let a wildcard match a suffix without a dot', () => {
  assert.equal(serverNameMatches('*.example.com', 'evilexample.com'), false)
  assert.equal(serverNameMatches('*.example.com', '.example.com'), false)
})

test('parseKeyPolicy() names the offending field', () => {
  assert.throws(
    () => parseKeyPolicy({ denyCountries: ['Russia'] }),
    /denyCountries\.0: Expected an ISO 3166-1/,
  )
  assert.throws(() => parseKeyPolicy({ allowRegion: ['eu'] }), /allowRegion/)
  assert.throws(() => parseKeyPolicy({ allowServerNames: ['*.*.x'] }), /allowServerNames\.0/)
})

test('TokenBuckets allows a burst, then the refill rate', () => {
  let now = 0
  const b = new TokenBuckets(10, 3, () => now)
  assert.deepEqual([b.take('a'), b.take('a'), b.take('a'), b.take('a')], [true, true, true, false])
  assert.equal(b.take('b'), true)
  now += 100 // one token at 10/s
  assert.equal(b.take('a'), true)
  assert.equal(b.take('a'), false)
  now += 10_000
  assert.deepEqual([b.take('a'), b.take('a'), b.take('a'), b.take('a')], [true, true, true, false])
})
