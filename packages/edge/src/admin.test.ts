import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { checkBearer, parsePurge } from './admin.ts'

const digest = createHash('sha256').update('s3cret-token').digest()

test('checkBearer(): only "Bearer <token>" with the right token passes', () => {
  assert.equal(checkBearer('Bearer s3cret-token', digest), true)
  assert.equal(checkBearer('bearer   s3cret-token ', digest), true)
  assert.equal(checkBearer('Bearer s3cret-tokeN', digest), false)
  assert.equal(checkBearer('Basic s3cret-token', digest), false)
  assert.equal(checkBearer('s3cret-token', digest), false)
  assert.equal(checkBearer(undefined, digest), false)
  assert.equal(checkBearer('Bearer ', createHash('sha256').update('').digest()), false)
})

test('parsePurge(): exactly one known, non-empty selector', () => {
  assert.deepEqual(parsePurge({ url: 'https://a/x' }), { url: 'https://a/x' })
  assert.deepEqual(parsePurge({ tag: 't' }), { tag: 't' })
  assert.equal(parsePurge({ url: 'a', tag: 'b' }), undefined)
  assert.equal(parsePurge({ url: '' }), undefined)
  assert.equal(parsePurge({ url: 1 }), undefined)
  assert.equal(parsePurge({ colour: 'x' }), undefined)
  assert.equal(parsePurge(null), undefined)
  assert.equal(parsePurge('url'), undefined)
})

test('parsePurge() and checkBearer() never throw on arbitrary input (property)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const sel = parsePurge(v)
      if (sel !== undefined) assert.equal(Object.keys(sel).length, 1)
    }),
  )
  fc.assert(
    fc.property(fc.string(), (s) => {
      assert.equal(
        checkBearer(s, digest),
        s.trim() === 'Bearer s3cret-token' || /^bearer\s+s3cret-token\s*$/i.test(s),
      )
    }),
  )
})
