import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { issueClearance, KeyRing, verifyClearance, type EpochKey } from '@outpost/protect'
import { extractHexKeys, parseLease } from './node-api.ts'
import { LeaseClearanceKeys } from './clearance-keys.ts'
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

test('parseLease() pairs STEKs first, then clearance keys; a mismatch is refused and zeroised', () => {
  const stek = randomBytes(32)
  const ck = [randomBytes(32), randomBytes(32)]
  const doc = {
    nodeId: 'n1',
    leaseExpiresAt: '2026-11-25T00:00:00.000Z',
    graceSeconds: 30,
    bundleVersion: 3,
    rebootNeedsReadmission: false,
    steks: [{ id: 'aa'.repeat(16), key: stek.toString('hex'), current: true }],
    clearanceKeys: [
      { epoch: 200, key: ck[0]?.toString('hex'), current: true },
      { epoch: 100, key: ck[1]?.toString('hex'), current: false },
    ],
  }
  const body = Buffer.from(JSON.stringify(doc))
  const lease = parseLease(body)
  assert.ok(lease.steks[0]?.key.equals(stek))
  assert.deepEqual(
    lease.clearanceKeys?.map((k) => ({
      epoch: k.epoch,
      current: k.current,
      hex: k.key.toString('hex'),
    })),
    [
      { epoch: 200, current: true, hex: ck[0]?.toString('hex') },
      { epoch: 100, current: false, hex: ck[1]?.toString('hex') },
    ],
  )
  assert.equal(body.includes(Buffer.from(stek.toString('hex'))), false, 'hex overwritten')
  // A control plane without clearance keys: none, and the STEKs still pair.
  const old = parseLease(Buffer.from(JSON.stringify({ ...doc, clearanceKeys: undefined })))
  assert.equal(old.clearanceKeys, undefined)
  assert.equal(old.steks.length, 1)
  // One key field too few: refused.
  const bad = { ...doc, clearanceKeys: [...doc.clearanceKeys, { epoch: 50, current: false }] }
  assert.throws(() => parseLease(Buffer.from(JSON.stringify(bad))), /do not pair up/)
})

test('LeaseClearanceKeys: a cookie from one node verifies on another; rotation, brick wipe', () => {
  const material = new Map([10, 11, 12, 13].map((e) => [e, randomBytes(32)]))
  const lease = (epochs: number[]): EpochKey[] =>
    epochs.map((e, i) => ({
      epoch: e,
      key: Buffer.from(material.get(e) ?? Buffer.alloc(0)),
      current: i === 0,
    }))
  const B = { zone: 'shop.test', userAgent: 'Mozilla/5.0', prefix: '' }
  const now = Date.now()
  const registered = new Map<string, Buffer>()
  const ringA = new KeyRing()
  const ringB = new KeyRing()
  const a = new LeaseClearanceKeys(ringA)
  const b = new LeaseClearanceKeys(ringB, {
    onKey: (n, k) => registered.set(n, k),
    onDrop: (n) => registered.delete(n),
  })
  a.update(lease([11, 10]))
  b.update(lease([11, 10]))
  assert.deepEqual([...registered.keys()].sort(), ['clearance:10', 'clearance:11'])
  const cookie = issueClearance(ringA, B, now, 3600)
  assert.equal(verifyClearance(ringB, cookie, B, now).ok, true)
  b.update(lease([12, 11]))
  assert.equal(verifyClearance(ringB, cookie, B, now).ok, true, 'history')
  b.update(lease([13, 12]))
  assert.equal(verifyClearance(ringB, cookie, B, now).ok, false, 'rotated out')
  assert.deepEqual([...registered.keys()].sort(), ['clearance:12', 'clearance:13'])
  const held = [...registered.values()]
  b.close()
  for (const k of held)
    assert.ok(
      k.every((x) => x === 0),
      'wiped',
    )
  const late = lease([13])
  b.update(late)
  assert.ok(
    late[0]?.key.every((x) => x === 0),
    'a lease after close is zeroised, not kept',
  )
  assert.deepEqual(ringB.epochs, [])
})
