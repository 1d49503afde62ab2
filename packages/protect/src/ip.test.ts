import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CidrSet, ipBytes, prefixKey } from './ip.ts'

test('ipBytes parses v4, v6, mapped and embedded forms', () => {
  assert.deepEqual([...(ipBytes('192.0.2.7') ?? [])], [192, 0, 2, 7])
  assert.deepEqual([...(ipBytes('::ffff:10.1.2.3') ?? [])], [10, 1, 2, 3])
  const v6 = ipBytes('2001:db8::1')
  assert.equal(Buffer.from(v6 ?? []).toString('hex'), '20010db8000000000000000000000001')
  assert.equal(Buffer.from(ipBytes('::') ?? []).toString('hex'), '0'.repeat(32))
  assert.equal(ipBytes('not-an-ip'), undefined)
  assert.equal(ipBytes('300.1.1.1'), undefined)
})

test('prefix keys group /24 and /64', () => {
  assert.equal(prefixKey('192.0.2.7', 24, 64), '192.0.2.0/24')
  assert.equal(prefixKey('192.0.2.200', 24, 64), prefixKey('192.0.2.1', 24, 64))
  assert.notEqual(prefixKey('192.0.3.1', 24, 64), prefixKey('192.0.2.1', 24, 64))
  assert.equal(prefixKey('2001:db8:1:2:aaaa::1', 24, 64), prefixKey('2001:db8:1:2::ffff', 24, 64))
  assert.notEqual(prefixKey('2001:db8:1:3::1', 24, 64), prefixKey('2001:db8:1:2::1', 24, 64))
})

test('CidrSet membership', () => {
  const s = new CidrSet(['10.0.0.0/8', '192.0.2.128/25', '2001:db8::/32', '198.51.100.7'])
  assert.equal(s.has('10.200.3.4'), true)
  assert.equal(s.has('11.0.0.1'), false)
  assert.equal(s.has('192.0.2.129'), true)
  assert.equal(s.has('192.0.2.127'), false)
  assert.equal(s.has('198.51.100.7'), true)
  assert.equal(s.has('198.51.100.8'), false)
  assert.equal(s.has('2001:db8:ffff::1'), true)
  assert.equal(s.has('2001:db9::1'), false)
  assert.equal(s.has('::ffff:10.0.0.1'), true)
  assert.throws(() => new CidrSet(['10.0.0.0/33']), /bad prefix length/)
  assert.throws(() => new CidrSet(['nope/8']), /not an IP/)
})

test('property: an address is in its own /n for every n, and v4 /n agrees with integer masking', () => {
  fc.assert(
    fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.ipV4(), (a, n, b) => {
      const s = new CidrSet([`${a}/${n}`])
      assert.equal(s.has(a), true)
      const toInt = (ip: string): number => ip.split('.').reduce((x, o) => x * 256 + Number(o), 0)
      const m = n === 0 ? 0 : Number((0xffffffffn << BigInt(32 - n)) & 0xffffffffn)
      const same = (toInt(a) & m) >>> 0 === (toInt(b) & m) >>> 0
      assert.equal(s.has(b), same)
    }),
  )
  fc.assert(
    fc.property(fc.ipV6(), (a) => {
      assert.equal(ipBytes(a)?.length === 16 || ipBytes(a)?.length === 4, true)
      assert.equal(new CidrSet([`${a}/128`]).has(a), ipBytes(a)?.length === 16)
    }),
  )
})
