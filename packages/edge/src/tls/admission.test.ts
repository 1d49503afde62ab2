import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Gcra, HandshakeAdmission, prefixOf } from './admission.ts'

test('Gcra: never more than burst + rate × elapsed conforming events', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 500 }),
      fc.integer({ min: 1, max: 50 }),
      fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 400 }),
      (rate, burst, gaps) => {
        const g = new Gcra({ rate, burst }, 10)
        let t = 0
        let ok = 0
        for (const gap of gaps) {
          t += gap
          if (g.conforms('k', t)) {
            g.take('k', t)
            ok++
          }
        }
        return ok <= burst + Math.floor((t * rate) / 1000 + 1e-9)
      },
    ),
  )
})

test('Gcra: under constant over-demand the admitted rate is the configured rate', () => {
  const g = new Gcra({ rate: 50, burst: 10 }, 10)
  let ok = 0
  for (let t = 0; t < 10_000; t += 3) {
    if (g.conforms('k', t)) {
      g.take('k', t)
      ok++
    }
  }
  assert.ok(Math.abs(ok - (10 + 50 * 10)) <= 1, `${ok}`)
})

test('Gcra: bounded keys, least recently seen evicted first', () => {
  const g = new Gcra({ rate: 1, burst: 1 }, 3)
  for (const k of ['a', 'b', 'c']) g.take(k, 0)
  g.take('a', 0) // a is now the most recent
  g.take('d', 0) // evicts b
  assert.equal(g.size, 3)
  assert.equal(g.conforms('a', 0), false)
  assert.equal(g.conforms('b', 0), true, 'b was forgotten')
})

test('prefixOf: IPv4 /24 and IPv6 /64 (compressed or not)', () => {
  assert.equal(prefixOf('192.0.2.77'), '192.0.2')
  assert.equal(prefixOf('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64')
  assert.equal(prefixOf('2001:db8:1:2::9'), '2001:db8:1:2::/64')
  assert.equal(prefixOf('2001:db8::1'), '2001:db8:0:0::/64')
  assert.equal(prefixOf('2001:0db8:0000:0002::'), '2001:db8:0:2::/64')
})

test('HandshakeAdmission: resumptions exempt; per-IP, prefix, zone, node budgets in order; all-or-nothing', () => {
  const shed: string[] = []
  let t = 0
  const a = new HandshakeAdmission({
    limits: {
      perIp: { rate: 1, burst: 2 },
      perPrefix: { rate: 1, burst: 3 },
      perZone: { rate: 1, burst: 3 },
      perNode: { rate: 1, burst: 4 },
      maxTrackedKeys: 100,
    },
    zoneOf: (n) => (n.endsWith('site.test') ? 'site.test' : undefined),
    onShed: (r) => shed.push(r),
    now: () => t,
  })
  const full = (peer: string, serverName = 'site.test'): string | undefined =>
    a.admit({ serverName, resumed: false, peer })
  assert.equal(full('192.0.2.1'), undefined)
  assert.equal(full('::ffff:192.0.2.1'), undefined, 'IPv4-mapped is the same IP')
  assert.equal(full('192.0.2.1'), 'ip_budget')
  for (let i = 0; i < 100; i++)
    assert.equal(a.admit({ serverName: 'site.test', resumed: true, peer: '192.0.2.1' }), undefined)
  assert.equal(full('192.0.2.2'), undefined)
  assert.equal(full('192.0.2.3'), 'prefix_budget')
  assert.equal(full('198.51.100.1', 'www.site.test'), 'zone_budget', 'www is the same zone')
  assert.equal(full('198.51.100.1', 'other.test'), undefined)
  assert.equal(full('203.0.113.1', 'third.test'), 'node_budget')
  assert.deepEqual(shed, ['ip_budget', 'prefix_budget', 'zone_budget', 'node_budget'])
  // Refusals took nothing: after 1 s exactly one more per budget.
  t += 1000
  assert.equal(full('203.0.113.1', 'third.test'), undefined)
  assert.equal(full('203.0.113.2', 'third.test'), 'node_budget')
})
