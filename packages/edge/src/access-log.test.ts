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

test('AccessLog: protection-answered requests are sampled per second, the rest counted', () => {
  const lines: Record<string, unknown>[] = []
  const out = {
    write: (s: string) => {
      lines.push(JSON.parse(s) as Record<string, unknown>)
      return true
    },
  } as unknown as NodeJS.WritableStream
  const log = new AccessLog({ stream: out, clientIp: 'truncate', rejectsPerSecond: 3 })
  const rec = (time: number, protection?: 'rate-limit') => ({
    time,
    site: 's',
    method: 'GET',
    path: '/',
    status: protection === undefined ? 200 : 429,
    bytes: 0,
    durationMs: 0,
    cache: 'NONE' as const,
    clientIp: '203.0.113.9',
    httpVersion: '1.1',
    ...(protection !== undefined ? { protection } : {}),
  })
  const t = 1_700_000_000_000
  for (let i = 0; i < 10; i++) log.write(rec(t + i, 'rate-limit'))
  for (let i = 0; i < 4; i++) log.write(rec(t + 10 + i)) // served requests: always logged
  log.write(rec(t + 1000, 'rate-limit')) // next second: written, carries the count
  const rejects = lines.filter((l) => l['status'] === 429)
  assert.equal(rejects.length, 4)
  assert.equal(lines.filter((l) => l['status'] === 200).length, 4)
  const first = rejects.at(0)
  assert.ok(first !== undefined)
  assert.equal(first['protection'], 'rate-limit')
  assert.equal(first['suppressed'], undefined)
  assert.equal(rejects[3]?.['suppressed'], 7)
  assert.equal(log.suppressedRejects, 7)
  const none = new AccessLog({ stream: new PassThrough(), clientIp: 'full', rejectsPerSecond: 0 })
  none.write(rec(t, 'rate-limit'))
  assert.equal(none.suppressedRejects, 1)
})
