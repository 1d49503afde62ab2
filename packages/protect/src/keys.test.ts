import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { issueClearance, verifyClearance } from './clearance.ts'
import { KeyRing, type EpochKey } from './keys.ts'

const B = { zone: 'example.org', userAgent: 'Mozilla/5.0', prefix: '' }
const NOW = 1_800_000_000_000

/** A control plane's key set: `epochs` with the last one current, fresh Buffers each call. */
function set(material: Map<number, Buffer>, epochs: number[]): EpochKey[] {
  return epochs.map((e, i) => ({
    epoch: e,
    key: Buffer.from(material.get(e) ?? Buffer.alloc(0)),
    current: i === epochs.length - 1,
  }))
}

test('KeyRing.replace: two rings fed the same set verify each other; a key rotated out fails', () => {
  const material = new Map([1000, 1001, 1002, 1003].map((e) => [e, randomBytes(32)]))
  const a = new KeyRing()
  const b = new KeyRing()
  a.replace(set(material, [1000, 1001]))
  b.replace(set(material, [1000, 1001]))
  assert.equal(a.epoch, 1001)
  const t = issueClearance(a, B, NOW, 3600)
  assert.equal(verifyClearance(b, t, B, NOW).ok, true, 'issued by a, accepted by b')
  // A local ring (no control plane) does not accept it.
  assert.equal(verifyClearance(new KeyRing(), t, B, NOW).ok, false)
  b.replace(set(material, [1001, 1002]))
  assert.equal(verifyClearance(b, t, B, NOW).ok, true, 'still in history')
  b.replace(set(material, [1002, 1003]))
  assert.deepEqual(b.epochs, [1002, 1003])
  assert.equal(verifyClearance(b, t, B, NOW).ok, false, 'rotated out of history')
})

test('KeyRing.replace takes ownership: duplicates and dropped keys are zeroised; bad sets are refused', () => {
  const material = new Map([7, 8, 9].map((e) => [e, randomBytes(32)]))
  const r = new KeyRing()
  const first = set(material, [7, 8])
  assert.deepEqual(r.replace(first), { added: [7, 8], dropped: [1] })
  const again = set(material, [7, 8])
  assert.deepEqual(r.replace(again), { added: [], dropped: [] })
  for (const k of again)
    assert.ok(
      k.key.every((x) => x === 0),
      'duplicate zeroised',
    )
  assert.deepEqual(r.replace(set(material, [8, 9])), { added: [9], dropped: [7] })
  assert.ok(
    first[0]?.key.every((x) => x === 0),
    'dropped key zeroised',
  )
  assert.ok(
    first[1]?.key.some((x) => x !== 0),
    'kept key intact',
  )
  // Same epoch, different bytes (a restarted control plane): the new key wins.
  const other = [{ epoch: 9, key: randomBytes(32), current: true }]
  const t = issueClearance(r, B, NOW, 60)
  r.replace(other)
  assert.equal(verifyClearance(r, t, B, NOW).ok, false)

  const short = { epoch: 10, key: randomBytes(16), current: true }
  assert.throws(() => r.replace([short]), /epoch 10: need a 32-byte key/)
  assert.ok(
    short.key.every((x) => x === 0),
    'refused keys are zeroised too',
  )
  assert.throws(
    () =>
      r.replace([
        { epoch: 11, key: randomBytes(32), current: true },
        { epoch: 12, key: randomBytes(32), current: true },
      ]),
    /exactly one current key/,
  )
  assert.throws(() => r.replace([]), /exactly one current key/)
  assert.equal(r.epoch, 9, 'a refused set changes nothing')
})

test('KeyRing.wipe zeroises every key; nothing verifies afterwards', () => {
  const key = randomBytes(32)
  const r = new KeyRing()
  r.replace([{ epoch: 5, key, current: true }])
  const t = issueClearance(r, B, NOW, 60)
  assert.equal(verifyClearance(r, t, B, NOW).ok, true)
  r.wipe()
  assert.ok(key.every((x) => x === 0))
  assert.deepEqual(r.epochs, [])
  assert.equal(verifyClearance(r, t, B, NOW).ok, false)
})
