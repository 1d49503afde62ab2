import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Limiter, SLOT_BYTES } from './limiter.ts'

const P = { rate: 10, burst: 20, delay: 20 }

test('AP1 trace: 100 back-to-back → 21 pass, 79 reject; after 1 s idle 10 more pass', () => {
  const l = new Limiter(1 << 20)
  const first = Array.from({ length: 100 }, () => l.take('ip:1', P, 1000).ok)
  assert.equal(first.filter(Boolean).length, 21)
  assert.deepEqual(first.slice(0, 21), Array<boolean>(21).fill(true))
  const rejected = l.take('ip:1', P, 1000)
  assert.equal(rejected.ok, false)
  assert.equal(rejected.retryAfterS, 1)
  const later = Array.from({ length: 30 }, () => l.take('ip:1', P, 2000).ok)
  assert.equal(later.filter(Boolean).length, 10)
  assert.equal(l.take('ip:2', P, 2000).ok, true, 'another key is unaffected')
})

test('delay=N: excess above N is delayed by (excess-N)/rate', () => {
  const l = new Limiter(1 << 20)
  const p = { rate: 10, burst: 5, delay: 2 }
  const r = Array.from({ length: 7 }, () => l.take('k', p, 0))
  assert.deepEqual(
    r.map((x) => (x.ok ? x.delayMs : -1)),
    [0, 0, 0, 100, 200, 300, -1],
  )
})

test('Retry-After is when the next request would pass', () => {
  const l = new Limiter(1 << 20)
  const p = { rate: 0.5, burst: 0, delay: 0 }
  assert.equal(l.take('k', p, 0).ok, true)
  const r = l.take('k', p, 500)
  assert.equal(r.ok, false)
  assert.equal(r.retryAfterS, 2) // 1500 ms until a slot frees → 2 s
  assert.equal(l.take('k', p, 1999).ok, false)
  assert.equal(l.take('k', p, 2000).ok, true)
})

test('property: over any trace, passes never exceed burst + 1 + rate·elapsed', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 0, max: 30 }),
      fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 300 }),
      (rate, burst, gaps) => {
        const l = new Limiter(1 << 16)
        let t = 0
        let pass = 0
        for (const g of gaps) {
          t += g
          if (l.take('k', { rate, burst, delay: burst }, t).ok) pass++
        }
        assert.ok(pass <= burst + 1 + Math.ceil((rate * t) / 1000) + 1)
        assert.ok(pass >= 1)
      },
    ),
  )
})

test('AP16: 1 M distinct keys stay within the byte budget (LRU eviction)', () => {
  const budget = 1 << 20 // 1 MiB → 8192 slots
  const l = new Limiter(budget)
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < 1_000_000; i++) l.take(`ip:10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, P, i)
  assert.equal(l.size, Math.floor(budget / SLOT_BYTES))
  assert.ok(l.bytes <= budget)
  assert.equal(l.evictions, 1_000_000 - l.capacity)
  // The most recent keys survive; the oldest were evicted (a new key passes again).
  const recent = `ip:10.${999_999 >> 16}.${(999_999 >> 8) & 255}.${999_999 & 255}`
  for (let i = 0; i < 25; i++) l.take(recent, P, 1_000_000)
  assert.equal(l.take(recent, P, 1_000_000).ok, false, 'recent key keeps its state')
  gc()
  const grown = process.memoryUsage().heapUsed - before
  assert.ok(grown < 2 * budget, `heap grew by ${grown} B`)
})
