import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { TokenBuckets } from './rate-limit.ts'

test('TokenBuckets: burst back to back, then the rate; nodes are independent', () => {
  let t = 0
  const b = new TokenBuckets(10, 5, () => t)
  const first = Array.from({ length: 8 }, () => b.take('node-a'))
  assert.deepEqual(first, [true, true, true, true, true, false, false, false])
  assert.equal(b.take('node-b'), true, 'another node has its own budget')
  t += 100 // one token at 10/s
  assert.equal(b.take('node-a'), true)
  assert.equal(b.take('node-a'), false)
})

test('TokenBuckets: admitted operations never exceed burst + rate × time', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 100 }),
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 300 }),
      (rate, burst, gaps) => {
        let t = 0
        const b = new TokenBuckets(rate, burst, () => t)
        let ok = 0
        for (const g of gaps) {
          t += g
          if (b.take('n')) ok++
        }
        return ok <= burst + Math.floor((t / 1000) * rate)
      },
    ),
  )
})

test('TokenBuckets: memory stays bounded under a flood of distinct identities', () => {
  let t = 0
  const b = new TokenBuckets(1, 2, () => t, 100)
  for (let i = 0; i < 10_000; i++) {
    t += 0.01
    b.take(`node-${i}`)
    b.take(`node-${i}`) // not full: the old "sweep only full buckets" kept every one
  }
  assert.ok(b.size <= 100, `size ${b.size}`)
  // A busy node that keeps being touched survives the eviction of idle ones.
  const c = new TokenBuckets(1, 3, () => t, 10)
  for (let i = 0; i < 3; i++) assert.equal(c.take('busy'), true)
  for (let i = 0; i < 50; i++) {
    c.take(`other-${i}`)
    assert.equal(c.take('busy'), false, `busy node got a fresh burst after ${i}`)
  }
})
