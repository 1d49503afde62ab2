import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { nodeIdentityFromSan, nodeIdentityUris } from './identity.ts'

test('nodeIdentityFromSan() reads the three URIs among other names', () => {
  const san =
    'DNS:edge.example, URI:urn:outpost:node:e1, IP Address:10.0.0.1, URI:urn:outpost:region:ru-west, URI:urn:outpost:country:RU'
  assert.deepEqual(nodeIdentityFromSan(san), { nodeId: 'e1', region: 'ru-west', country: 'RU' })
})

test('nodeIdentityFromSan() refuses duplicates, missing fields and bad values', () => {
  const base = [
    'URI:urn:outpost:node:e1',
    'URI:urn:outpost:region:r1',
    'URI:urn:outpost:country:UA',
  ]
  assert.equal(nodeIdentityFromSan(base.slice(0, 2).join(', ')), undefined)
  assert.equal(nodeIdentityFromSan([...base, 'URI:urn:outpost:node:e2'].join(', ')), undefined)
  assert.equal(nodeIdentityFromSan(base.join(', ').replace('UA', 'ua')), undefined)
  assert.equal(
    nodeIdentityFromSan(
      'URI:"urn:outpost:node:e,1", URI:urn:outpost:region:r1, URI:urn:outpost:country:UA',
    ),
    undefined,
  )
})

test('nodeIdentityUris() and nodeIdentityFromSan() round-trip valid identities (property)', () => {
  const id = fc.record({
    nodeId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/),
    region: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/),
    country: fc.stringMatching(/^[A-Z]{2}$/),
  })
  fc.assert(
    fc.property(id, (v) => {
      const san = nodeIdentityUris(v)
        .map((u) => `URI:${u}`)
        .join(', ')
      assert.deepEqual(nodeIdentityFromSan(san), { ...v })
    }),
  )
})
