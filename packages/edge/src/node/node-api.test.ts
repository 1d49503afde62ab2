import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { extractHexKeys } from './node-api.ts'
import { LeaseStekProvider } from '../stek.ts'

test('extractHexKeys() decodes every "key" value and overwrites its hex in place', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 48 }), { maxLength: 5 }),
      (keys) => {
        const doc = {
          nodeId: 'n1',
          steks: keys.map((k, i) => ({
            id: `id${i}`,
            key: Buffer.from(k).toString('hex'),
            current: i === 0,
          })),
        }
        const body = Buffer.from(JSON.stringify(doc))
        const out = extractHexKeys(body)
        assert.deepEqual(
          out.map((b) => new Uint8Array(b)),
          keys.map((k) => new Uint8Array(k)),
        )
        const after = JSON.parse(body.toString()) as typeof doc
        for (const s of after.steks) assert.match(s.key, /^0*$/)
        assert.equal(after.nodeId, 'n1')
      },
    ),
  )
  assert.throws(() => extractHexKeys(Buffer.from('{"key":"zz"}')), /not hex/)
  assert.throws(() => extractHexKeys(Buffer.from('{"key":"abc"}')), /malformed/)
})

test('LeaseStekProvider: keys from the lease by 32-bit name, old keys zeroised, close wipes', () => {
  const registered: string[] = []
  const dropped: string[] = []
  const p = new LeaseStekProvider({
    onKey: (n) => registered.push(n),
    onDrop: (n) => dropped.push(n),
  })
  assert.throws(() => p.current(), /no STEK/)
  const id1 = randomBytes(16)
  const id2 = randomBytes(16)
  const k1 = randomBytes(32)
  const k2 = randomBytes(32)
  p.update([{ id: id1, key: k1, current: true }])
  assert.equal(p.current().id, id1.readUInt32BE(0))
  assert.equal(p.current().key, k1)
  // Rotation: k2 current, k1 kept for opening; the same k1 again is not re-registered.
  const k1again = Buffer.from(k1)
  p.update([
    { id: id2, key: k2, current: true },
    { id: id1, key: k1again, current: false },
  ])
  assert.equal(p.current().key, k2)
  assert.equal(p.lookup(id1.readUInt32BE(0)), k1)
  assert.ok(
    k1again.every((b) => b === 0),
    'duplicate copy zeroised',
  )
  assert.equal(registered.length, 2)
  // k1 retired from the lease: zeroised and released.
  p.update([{ id: id2, key: Buffer.from(k2), current: true }])
  assert.ok(k1.every((b) => b === 0))
  assert.equal(p.lookup(id1.readUInt32BE(0)), undefined)
  assert.deepEqual(dropped, [`stek:${id1.readUInt32BE(0)}`])
  p.close()
  assert.ok(k2.every((b) => b === 0))
  assert.throws(() => p.current())
})
