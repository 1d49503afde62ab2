import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import fc from 'fast-check'
import { AccessLog, truncateIp } from './access-log.ts'

test('truncateIp(): IPv4 /24, IPv6 /48, IPv4-mapped IPv6 as IPv4', () => {
  assert.equal(truncateIp('203.0.113.77'), '203.0.113.0')
  assert.equal(truncateIp('2001:db8:abcd:12:34::1'), '2001:db8:abcd::')
  assert.equal(truncateIp('::1'), '0:0:0::')
  assert.equal(truncateIp('::ffff:198.51.100.9'), '198.51.100.0')
  assert.equal(truncateIp('not an ip'), '')
})

test('truncateIp() never keeps the host part (property)', () => {
  fc.assert(
    fc.property(fc.ipV4(), (ip) => {
      const t = truncateIp(ip)
      assert.ok(t.endsWith('.0'))
      assert.equal(t.split('.').slice(0, 3).join('.'), ip.split('.').slice(0, 3).join('.'))
    }),
  )
  fc.assert(
    fc.property(fc.ipV6(), (ip) => {
      const t = truncateIp(ip)
      assert.ok(t.endsWith('::'), `${ip} → ${t}`)
      assert.ok(t.split(':').filter((g) => g !== '').length <= 3)
    }),
  )
})

test('AccessLog: hash mode is stable within a process and hides the address; full keeps it', () => {
  const h = new AccessLog({ stream: new PassThrough(), clientIp: 'hash' })
  assert.equal(h.ip('203.0.113.7'), h.ip('203.0.113.7'))
  assert.notEqual(h.ip('203.0.113.7'), h.ip('203.0.113.8'))
  assert.doesNotMatch(h.ip('203.0.113.7'), /203/)
  assert.notEqual(
    new AccessLog({ stream: new PassThrough(), clientIp: 'hash' }).ip('203.0.113.7'),
    h.ip('203.0.113.7'),
  )
  assert.equal(
    new AccessLog({ stream: new PassThrough(), clientIp: 'full' }).ip('203.0.113.7'),
    '203.0.113.7',
  )
})
