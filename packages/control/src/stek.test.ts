import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { hexBuffer, StekSchedule } from './stek.ts'

test('StekSchedule rotates hourly and retires keys after the retention', () => {
  let now = 0
  const s = new StekSchedule({
    rotateMs: 3_600_000,
    maxRetentionMs: 18 * 3_600_000,
    now: () => now,
  })
  const first = s.forRegion(18 * 3_600_000)
  assert.equal(first.length, 1)
  const k1 = first[0]
  assert.ok(k1)
  const key1 = Buffer.from(k1.key)
  now = 3_600_000
  const two = s.forRegion(18 * 3_600_000)
  assert.equal(two.length, 2)
  assert.ok(two[1]?.key.equals(key1), 'the retired key follows the current one')
  // A high-risk region with 1 h retention gets only keys retired less than 1 h ago.
  now = 3 * 3_600_000
  assert.equal(s.forRegion(18 * 3_600_000).length, 3) // rotation is lazy: no backfill
  assert.equal(s.forRegion(3_600_000).length, 2)
  // After the maximum retention the key is zeroised and dropped.
  now = 20 * 3_600_000
  s.forRegion(18 * 3_600_000)
  assert.ok(k1.key.equals(Buffer.alloc(32)), 'retired key zeroised')
  s.close()
  assert.equal(s.size, 0)
})

test('hexBuffer() equals Buffer hex for any bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      assert.equal(hexBuffer(b).toString('latin1'), Buffer.from(b).toString('hex'))
    }),
  )
})
