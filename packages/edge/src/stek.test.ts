import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LeaseStekProvider, MemoryStekProvider } from './stek.ts'

test('MemoryStekProvider: rotates every R, keeps keys for H, zeroises retired keys (P7)', () => {
  let now = 0
  const R = 3_600_000
  const H = 18 * R
  const p = new MemoryStekProvider({ rotateMs: R, keepMs: H, now: () => now })
  const first = p.current()
  const firstKey = first.key
  assert.equal(first.key.length, 32)
  assert.ok(Number.isInteger(first.id))
  now += R - 1
  assert.equal(p.current(), first)
  now += 1
  const second = p.current()
  assert.notEqual(second, first)
  assert.ok(p.lookup(first.id), 'old key still opens tickets')
  let max = 0
  for (let i = 0; i < 40; i++) {
    now += R
    p.current()
    max = Math.max(max, p.all().length)
  }
  assert.ok(max <= Math.ceil(H / R) + 1, `kept ${max} keys`)
  assert.equal(p.lookup(first.id), undefined)
  assert.ok(
    firstKey.every((b) => b === 0),
    'retired key zeroised',
  )
  const live = p.all()
  p.close()
  assert.ok(live.every((k) => k.key.every((b) => b === 0)))
  assert.throws(() => p.current())
})

test('close() runs every onClose listener (ticket sealers drop key objects) once; a late one at once', () => {
  for (const p of [new MemoryStekProvider(), new LeaseStekProvider()]) {
    const calls: string[] = []
    p.onClose(() => calls.push('a'))
    p.onClose(() => {
      throw new Error('a broken listener')
    })
    p.onClose(() => calls.push('b'))
    assert.equal(calls.length, 0)
    p.close()
    assert.equal(calls.join(), 'a,b', 'every listener ran despite the broken one')
    p.close()
    assert.equal(calls.join(), 'a,b', 'not twice')
    p.onClose(() => calls.push('late'))
    assert.equal(calls.join(), 'a,b,late')
    assert.throws(() => p.current(), /STEK/)
  }
})
