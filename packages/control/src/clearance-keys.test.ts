import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ClearanceKeySchedule } from './clearance-keys.ts'

test('ClearanceKeySchedule rotates on schedule, keeps `history` keys, zeroises the rest', () => {
  let now = 1_800_000_000_000
  const s = new ClearanceKeySchedule({ rotateMs: 3_600_000, history: 2, now: () => now })
  const first = s.forLease()
  assert.equal(first.length, 1)
  const k1 = first[0]
  assert.ok(k1)
  assert.equal(k1.epoch, Math.floor(now / 1000))
  assert.equal(s.forLease()[0], k1, 'no rotation before rotateMs')
  now += 3_600_000
  const two = s.forLease()
  assert.equal(two.length, 2)
  assert.ok((two[0]?.epoch ?? 0) > k1.epoch, 'epochs increase')
  assert.equal(two[1], k1, 'the previous key follows the current one')
  // Forced rotations within one second still get distinct, increasing epochs.
  s.rotate()
  s.rotate()
  const keys = s.forLease()
  assert.equal(keys.length, 3, 'current + 2 history')
  const epochs = keys.map((k) => k.epoch)
  assert.deepEqual(
    epochs,
    [...epochs].sort((a, b) => b - a),
  )
  assert.equal(new Set(epochs).size, 3)
  assert.ok(k1.key.equals(Buffer.alloc(32)), 'a key past the history is zeroised')
  assert.ok(!keys.includes(k1))
  const held = keys.map((k) => k.key)
  s.close()
  assert.equal(s.size, 0)
  for (const k of held) assert.ok(k.equals(Buffer.alloc(32)), 'close zeroises')
})

test('ClearanceKeySchedule: epochs never go back after a restart (time-based)', () => {
  let now = 1_800_000_000_000
  const a = new ClearanceKeySchedule({ now: () => now })
  const before = a.forLease()[0]?.epoch ?? 0
  a.close()
  now += 5000
  const b = new ClearanceKeySchedule({ now: () => now })
  assert.ok((b.forLease()[0]?.epoch ?? 0) > before)
})
