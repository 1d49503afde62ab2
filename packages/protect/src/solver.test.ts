import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { SHA256_JS } from './solver.ts'

test('the inline pure-JS SHA-256 agrees with node:crypto', () => {
  const sha = runInNewContext(`${SHA256_JS}; sha256`, {
    Uint8Array,
    DataView,
    Math,
    Int32Array,
  }) as (m: Uint8Array) => Uint8Array
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (m) => {
      const want = createHash('sha256').update(m).digest('hex')
      assert.equal(Buffer.from(sha(m)).toString('hex'), want)
    }),
  )
  assert.equal(
    Buffer.from(sha(new TextEncoder().encode('abc'))).toString('hex'),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  )
})
