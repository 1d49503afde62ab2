import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { SecretRegistry } from './secrets.ts'

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0)

test('wipe zeroises every registered buffer, then runs every close hook', async () => {
  const r = new SecretRegistry()
  const bufs = [
    r.register('identity', randomBytes(121)),
    r.register('stek:1', randomBytes(48)),
    r.register('cache', new Uint8Array(randomBytes(32))),
    r.register('keyless-client-key', randomBytes(64).subarray(8, 40)),
  ]
  for (const b of bufs) assert.ok(!allZero(b))
  const order: string[] = []
  r.onWipe('listener', () => {
    order.push(`listener:${bufs.every(allZero)}`)
  })
  r.onWipe('data-path', async () => {
    await new Promise((res) => setTimeout(res, 5))
    order.push('data-path')
  })
  r.onWipe('broken', () => {
    throw new Error('close failed')
  })
  const wiping = r.wipe()
  for (const b of bufs) assert.ok(allZero(b), 'zeroised before wipe() resolves')
  const errors = await wiping
  assert.deepEqual(order.sort(), ['data-path', 'listener:true'])
  assert.deepEqual(
    errors.map((e) => e.name),
    ['broken'],
  )
})

test('re-registering a name zeroises the old buffer; release zeroises and forgets', () => {
  const r = new SecretRegistry()
  const old = r.register('stek', randomBytes(48))
  const fresh = r.register('stek', randomBytes(48))
  assert.ok(allZero(old))
  assert.ok(!allZero(fresh))
  r.release('stek')
  assert.ok(allZero(fresh))
  assert.deepEqual(r.names(), [])
})

test('after a wipe a new secret is zeroised and refused; reset re-opens the registry', async () => {
  const r = new SecretRegistry()
  await r.wipe()
  const late = randomBytes(32)
  assert.throws(() => r.register('late', late), /wiped/)
  assert.ok(allZero(late))
  r.reset()
  assert.equal(r.wiped, false)
  assert.ok(!allZero(r.register('again', randomBytes(32))))
})
