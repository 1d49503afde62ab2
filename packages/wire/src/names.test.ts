import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nameLookup } from './names.ts'

test('nameLookup() names known values and prints unknown ones as padded hex', () => {
  const name = nameLookup({ A: 0x01, B: 0x0304 }, 4)
  assert.equal(name(0x01), 'A')
  assert.equal(name(0x0304), 'B')
  assert.equal(name(0x2), '0x0002')
  assert.equal(nameLookup({}, 2)(0xabc), '0xabc')
})
