/**
 * Decisions everywhere at once (AP12): "under attack" with a TTL and bans,
 * set through the API, audited, and delivered to a node's long-poll in < 1 s,
 * on node:sqlite and PostgreSQL. Prefix parsing is property-tested.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ipBytes, ipText, normalisePrefix } from '../src/protection.ts'
import { startHarness } from './harness.ts'
import { BACKENDS, nodeCall, stopPostgres } from './protection-helpers.ts'

after(() => stopPostgres())

interface Feed {
  version: number
  changed: boolean
  decisions?: { id: string; type: string; zoneId?: string; prefix?: string; expiresAt: string }[]
}

for (const be of BACKENDS) {
  test(
    `decisions (${be.name}): under-attack and bans reach a long-polling node in < 1 s, audited, with TTLs`,
    { skip: be.skip ?? false, timeout: 60_000 },
    async (t) => {
      let offsetMs = 0
      const h = await startHarness(
        { database: await be.database(t) },
        { now: () => new Date(Date.now() + offsetMs) },
      )
      t.after(() => h.close())
      await h.call('PUT', '/v1/regions/ua-kyiv', { name: 'Kyiv', country: 'UA' })
      await h.call('POST', '/v1/orgs', {
        id: 'zn',
        name: 'Zaborona',
        country: 'UA',
        region: 'ua-kyiv',
      })
      const z = await h.call('POST', '/v1/zones', {
        id: 'zn-web',
        orgId: 'zn',
        hostnames: ['zaborona.example'],
        origin: 'https://origin.zaborona.example',
      })
      assert.equal(z.status, 201, JSON.stringify(z.body))
      const creds = await h.enrol('edge-1', 'ua-kyiv')

      // Catch up: no `after` → the current snapshot at once.
      const first = (await nodeCall(h, creds, 'GET', '/node/v1/decisions')).body as unknown as Feed
      assert.equal(first.changed, true)
      assert.deepEqual(first.decisions, [])

      // Long-poll, then set "under attack": the poll must answer with it in < 1 s.
      const t0 = performance.now()
      const poll = nodeCall(h, creds, 'GET', `/node/v1/decisions?after=${first.version}&wait=20`)
      await new Promise((r) => setTimeout(r, 300))
      const tSet = performance.now()
      const ua = await h.call('POST', '/v1/zones/zn-web/under-attack', {
        ttlSeconds: 60,
        reason: 'flood',
      })
      assert.equal(ua.status, 200, JSON.stringify(ua.body))
      const got = (await poll).body as unknown as Feed
      const ms = performance.now() - tSet
      console.log(
        `# ${be.name}: under-attack set → long-poll answered in ${ms.toFixed(1)} ms (poll open ${(tSet - t0).toFixed(0)} ms before)`,
      )
      assert.ok(ms < 1000, `decision took ${ms} ms`)
      assert.ok(got.version > first.version)
      assert.equal(got.changed, true)
      const d = got.decisions?.find((x) => x.type === 'under-attack')
      assert.equal(d?.zoneId, 'zn-web')
      assert.ok(Math.abs(Date.parse(d.expiresAt) - Date.now() - 60_000) < 5000)

      // A ban: canonical prefix, on the next poll; then lifted.
      const poll2 = nodeCall(h, creds, 'GET', `/node/v1/decisions?after=${got.version}&wait=20`)
      const tBan = performance.now()
      const ban = await h.call('POST', '/v1/bans', { prefix: '203.0.113.77/24', ttlSeconds: 600 })
      assert.equal(ban.status, 201, JSON.stringify(ban.body))
      assert.equal(ban.body['prefix'], '203.0.113.0/24')
      const got2 = (await poll2).body as unknown as Feed
      const msBan = performance.now() - tBan
      console.log(`# ${be.name}: ban created → long-poll answered in ${msBan.toFixed(1)} ms`)
      assert.ok(msBan < 1000)
      assert.deepEqual(got2.decisions?.map((x) => x.prefix ?? x.type).sort(), [
        '203.0.113.0/24',
        'under-attack',
      ])
      const v6 = await h.call('POST', '/v1/bans', {
        prefix: '2001:DB8:0:0:1::7/64',
        zoneId: 'zn-web',
        ttlSeconds: 60,
      })
      assert.equal(v6.body['prefix'], '2001:db8::/64')
      const lift = await h.call('DELETE', `/v1/bans/${String(ban.body['id'])}`)
      assert.equal(lift.status, 200)
      const bans = (await h.call('GET', '/v1/bans')).body['bans'] as { prefix: string }[]
      assert.deepEqual(
        bans.map((b) => b.prefix),
        ['2001:db8::/64'],
      )

      // Bad input names what is wrong.
      const wide = await h.call('POST', '/v1/bans', { prefix: '0.0.0.0/0' })
      assert.equal(wide.status, 400)
      assert.match(JSON.stringify(wide.body), /length must be 8\.\.32/)
      const junk = await h.call('POST', '/v1/bans', { prefix: 'banana' })
      assert.match(
        (junk.body['error'] as { message: string }).message,
        /Cannot accept prefix "banana"/,
      )
      const nozone = await h.call('POST', '/v1/zones/nope/under-attack', {})
      assert.equal(nozone.status, 404)
      const ttl = await h.call('POST', '/v1/bans', { prefix: '198.51.100.1', ttlSeconds: 0 })
      assert.equal(ttl.status, 400)
      assert.match(JSON.stringify(ttl.body), /ttlSeconds/)

      // No change: the poll waits, then answers `changed: false` without the list.
      const cur = (await h.call('GET', '/v1/decisions')).body as unknown as Feed
      const w0 = performance.now()
      const idle = (
        await nodeCall(h, creds, 'GET', `/node/v1/decisions?after=${cur.version}&wait=1`)
      ).body as unknown as Feed
      assert.equal(idle.changed, false)
      assert.equal(idle.decisions, undefined)
      assert.ok(performance.now() - w0 >= 900)

      // TTL: 61 s later the switch is gone from the API and the feed snapshot.
      offsetMs = 61_000
      const later = (await h.call('GET', '/v1/decisions')).body as unknown as Feed
      assert.deepEqual(
        later.decisions?.map((x) => x.type),
        [],
      )

      // Switch off explicitly; every step is in the audit chain.
      await h.call('POST', '/v1/zones/zn-web/under-attack', { ttlSeconds: 30 })
      assert.equal((await h.call('DELETE', '/v1/zones/zn-web/under-attack')).status, 200)
      assert.equal((await h.call('DELETE', '/v1/zones/zn-web/under-attack')).status, 404)
      const actions = (
        (await h.call('GET', '/v1/audit')).body['entries'] as { action: string }[]
      ).map((e) => e.action)
      for (const a of [
        'under-attack.set',
        'ban.create',
        'ban.delete',
        'decision.expire',
        'under-attack.clear',
      ])
        assert.ok(actions.includes(a), `audit lacks ${a}`)
      assert.equal((await h.call('GET', '/v1/audit/verify')).body['ok'], true)

      // A read-only token cannot set decisions.
      const ro = await h.call('POST', '/v1/tokens', { name: 'ro', scopes: ['read'] })
      const denied = await h.call(
        'POST',
        '/v1/bans',
        { prefix: '192.0.2.1' },
        String(ro.body['token']),
      )
      assert.equal(denied.status, 403)
    },
  )
}

test('normalisePrefix(): canonical, idempotent, host bits cleared; ipText/ipBytes round-trip', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.integer({ min: 8, max: 32 }),
      (b, len) => {
        const p = normalisePrefix(`${[...b].join('.')}/${len}`)
        assert.equal(normalisePrefix(p), p)
        const [addr = '', l] = p.split('/')
        assert.equal(Number(l), len)
        const out = ipBytes(addr)
        assert.ok(out)
        const asInt = out.readUInt32BE(0)
        const mask = len === 32 ? 0xffffffff : ~(0xffffffff >>> len) >>> 0
        assert.equal(asInt, (Buffer.from(b).readUInt32BE(0) & mask) >>> 0)
      },
    ),
  )
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
      const text = ipText(b)
      assert.deepEqual([...(ipBytes(text) ?? [])], [...b])
    }),
  )
  fc.assert(
    fc.property(fc.ipV6(), fc.integer({ min: 16, max: 128 }), (ip, len) => {
      const p = normalisePrefix(`${ip}/${len}`)
      assert.equal(normalisePrefix(p), p)
    }),
  )
  assert.equal(normalisePrefix('::ffff:192.0.2.1'), '::ffff:c000:201/128')
  assert.throws(() => normalisePrefix('10.0.0.0/7'), /length must be 8\.\.32/)
  assert.throws(() => normalisePrefix('10.0.0.0/8/1'), /expected an IP address/)
  assert.throws(() => normalisePrefix('10.0.0.0/x'), /length must be/)
})
