/**
 * The protection loop end to end (issue #8): a real control plane, an edge whose
 * site is built from the signed bundle's zone (with its protection config), and
 * ProtectionSync over the node's mTLS certificate from the control plane's node CA.
 * A ban and an "under attack" switch set through the API take effect at the edge
 * within 5 s; edge traffic shows up in the zone's security report.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Agent, request } from 'node:http'
import { Protection } from '@outpost/protect'
import { startHarness, type Harness } from '../../control/test/harness.ts'
import {
  MAX_CLIENT_ROWS,
  ProtectionSync,
  STATS_BUCKET_MS,
  clientKey,
  reportedAction,
  type SyncZone,
} from '../src/protection-sync.ts'
import { startOrigin, startTestEdge } from './harness.ts'

const HOST = 'civil.example'
const ZONE = 'civil-web'
const API_TOKEN = 'zone-api-token-0123456789'

interface Reply {
  readonly status: number
  readonly type: string
  readonly body: string
}

/** GET through a node:http agent bound to a loopback source address. */
function get(
  base: string,
  agent: Agent,
  headers: Record<string, string> = {},
  path = '/',
): Promise<Reply> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const r = request(
      { host: u.hostname, port: u.port, path, agent, headers: { host: HOST, ...headers } },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'] ?? '',
            body: Buffer.concat(chunks).toString('utf8'),
          })
        })
      },
    )
    r.on('error', reject)
    r.end()
  })
}

const BROWSER = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
}
const JSON_CLIENT = { 'user-agent': 'civil-app/2.1', accept: 'application/json' }

/** Polls `f` every 10 ms until it holds; returns the elapsed ms (or fails after `ms`). */
async function within(ms: number, f: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now()
  while (!(await f())) {
    if (performance.now() - t0 > ms) assert.fail(`not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
  return performance.now() - t0
}

async function controlWithZone(): Promise<Harness> {
  const h = await startHarness()
  await h.call('PUT', '/v1/regions/ge-tbilisi', { name: 'Tbilisi', country: 'GE' })
  await h.call('POST', '/v1/orgs', {
    id: 'civil',
    name: 'Civil.ge',
    country: 'GE',
    region: 'ge-tbilisi',
  })
  const z = await h.call('POST', '/v1/zones', {
    id: ZONE,
    orgId: 'civil',
    hostnames: [HOST],
    origin: 'https://origin.civil.example',
  })
  assert.equal(z.status, 201, JSON.stringify(z.body))
  return h
}

test('zone protection config: validated by @outpost/protect, audited, delivered in the signed bundle', async (t) => {
  const h = await controlWithZone()
  t.after(() => h.close())
  const bad = await h.call('PUT', `/v1/zones/${ZONE}/protection`, {
    rules: [{ id: 'Bad Id', action: 'block' }],
  })
  assert.equal(bad.status, 400)
  assert.match(JSON.stringify(bad.body), /protection\.rules\.0\.id/)
  const missing = await h.call('PUT', '/v1/zones/nope/protection', { rules: [] })
  assert.equal(missing.status, 404)

  const cfg = { rules: [{ id: 'no-admin', action: 'block', match: { paths: ['/admin/**'] } }] }
  const ok = await h.call('PUT', `/v1/zones/${ZONE}/protection`, cfg)
  assert.equal(ok.status, 200, JSON.stringify(ok.body))
  assert.deepEqual((await h.call('GET', `/v1/zones/${ZONE}/protection`)).body['config'], cfg)
  const audit = await h.call('GET', '/v1/audit')
  const actions = (audit.body['entries'] as { action: string; target: string }[]).map(
    (e) => `${e.action} ${e.target}`,
  )
  assert.ok(actions.includes(`zone.protection.set ${ZONE}`), actions.join(', '))

  const creds = await h.enrol('edge-1', 'ge-tbilisi')
  const bundle = await h.node(creds, 'GET', '/node/v1/bundle')
  const payload = JSON.parse(
    Buffer.from(String(bundle.body['payload']), 'base64url').toString('utf8'),
  ) as { version: number; zones: { id: string; protection?: unknown }[] }
  assert.deepEqual(payload.zones.find((z) => z.id === ZONE)?.protection, cfg)

  assert.equal((await h.call('DELETE', `/v1/zones/${ZONE}/protection`)).status, 200)
  const after = await h.node(creds, 'GET', '/node/v1/bundle')
  const p2 = JSON.parse(
    Buffer.from(String(after.body['payload']), 'base64url').toString('utf8'),
  ) as { version: number; zones: { id: string; protection?: unknown }[] }
  assert.equal(p2.zones.find((z) => z.id === ZONE)?.protection, undefined)
  assert.ok(p2.version > payload.version, 'the delete bumped the bundle version')
})

test('a ban and "under attack" set in the control plane reach the edge within 5 s; edge stats feed the zone report', async (t) => {
  const h = await controlWithZone()
  t.after(() => h.close())
  const cfg = {
    rules: [{ id: 'no-admin', action: 'block', match: { paths: ['/admin/**'] } }],
    allow: {
      cidrs: ['127.0.0.4/32'],
      tokens: { sha256: [createHash('sha256').update(API_TOKEN).digest('hex')] },
    },
  }
  assert.equal((await h.call('PUT', `/v1/zones/${ZONE}/protection`, cfg)).status, 200)
  const creds = await h.enrol('edge-1', 'ge-tbilisi')
  const bundle = await h.node(creds, 'GET', '/node/v1/bundle')
  const zones = (
    JSON.parse(Buffer.from(String(bundle.body['payload']), 'base64url').toString('utf8')) as {
      zones: (SyncZone & { protection?: unknown })[]
    }
  ).zones
  const zone = zones.find((z) => z.id === ZONE)
  assert.ok(zone?.protection !== undefined)

  const origin = await startOrigin()
  t.after(() => origin.close())
  const protection = new Protection()
  // The site as the node runner builds it from the bundle zone (name = first host name).
  const fx = await startTestEdge(
    origin.url,
    {
      sites: [
        {
          hosts: [...zone.hostnames],
          origin: origin.url,
          cache: false,
          protection: zone.protection as never,
        },
      ],
    },
    { protection },
  )
  t.after(() => fx.close())

  const sync = new ProtectionSync({
    url: h.cp.nodeUrl,
    cert: creds.certPem,
    key: creds.keyPem,
    ca: h.cp.nodeCaPem,
    servername: 'localhost',
    protection: () => protection,
    zones: () => zones,
    waitSeconds: 20,
  })
  await sync.start()
  t.after(() => sync.stop())

  const bad = new Agent({ keepAlive: true, localAddress: '127.0.0.2' })
  const good = new Agent({ keepAlive: true, localAddress: '127.0.0.3' })
  const listed = new Agent({ keepAlive: true, localAddress: '127.0.0.4' })
  t.after(() => {
    bad.destroy()
    good.destroy()
    listed.destroy()
  })
  assert.equal((await get(fx.base, bad)).status, 200)
  // The bundle's rule is in force at the edge.
  assert.equal((await get(fx.base, good, {}, '/admin/users')).status, 403)

  // Ban: API call → a request from 127.0.0.2 is refused at the edge.
  await new Promise((r) => setTimeout(r, 200)) // the feed is parked in a long-poll
  const t0 = performance.now()
  const ban = await h.call('POST', '/v1/bans', {
    prefix: '127.0.0.2/32',
    zoneId: ZONE,
    ttlSeconds: 600,
  })
  assert.equal(ban.status, 201, JSON.stringify(ban.body))
  let refused = 0
  await within(5000, async () => {
    const r = await get(fx.base, bad)
    if (r.status === 403) refused++
    return r.status === 403
  })
  const banMs = performance.now() - t0
  console.log(`# ban: API call → 403 at the edge in ${banMs.toFixed(1)} ms (limit 5000)`)
  assert.ok(banMs <= 5000)
  assert.equal((await get(fx.base, good)).status, 200, 'another address is still served')
  for (let i = 0; i < 4; i++) if ((await get(fx.base, bad)).status === 403) refused++

  // Under attack: a browser gets the challenge page; a JSON client no HTML; allow-listed pass.
  const t1 = performance.now()
  const ua = await h.call('POST', `/v1/zones/${ZONE}/under-attack`, { ttlSeconds: 600 })
  assert.equal(ua.status, 200, JSON.stringify(ua.body))
  let challenged = 0
  await within(5000, async () => {
    const r = await get(fx.base, good, BROWSER)
    if (r.status !== 200) challenged++
    return r.status !== 200
  })
  const uaMs = performance.now() - t1
  console.log(
    `# under attack: API call → challenge at the edge in ${uaMs.toFixed(1)} ms (limit 5000)`,
  )
  assert.ok(uaMs <= 5000)
  const page = await get(fx.base, good, BROWSER)
  challenged++
  assert.equal(page.status, 403)
  assert.match(page.type, /^text\/html/)
  assert.match(page.body, /<html/i)
  const api = await get(fx.base, good, JSON_CLIENT)
  challenged++
  assert.equal(api.status, 403)
  assert.doesNotMatch(api.type, /html/)
  assert.doesNotMatch(api.body, /<html/i)
  assert.equal((await get(fx.base, listed, BROWSER)).status, 200, 'allow-listed address')
  assert.equal(
    (await get(fx.base, good, { ...JSON_CLIENT, authorization: `Bearer ${API_TOKEN}` })).status,
    200,
    'allow-listed API token',
  )

  // Calm: the switch goes off at the edge too.
  await h.call('DELETE', `/v1/zones/${ZONE}/under-attack`)
  const calmMs = await within(5000, async () => (await get(fx.base, good, BROWSER)).status === 200)
  console.log(`# calm: API call → served again in ${calmMs.toFixed(1)} ms`)

  // Stats: post now as if the bucket had closed; the report counts what the edge did.
  await sync.flush(Date.now() + STATS_BUCKET_MS)
  assert.equal(sync.stats.postFailures, 0)
  assert.equal(sync.stats.posts, 1)
  const report = await h.call('GET', `/v1/zones/${ZONE}/security?hours=1`)
  assert.equal(report.status, 200, JSON.stringify(report.body))
  const totals = report.body['totals'] as { rejected: number; challenged: number; served: number }
  const byAction = new Map(
    (report.body['byAction'] as { action: string; count: number }[]).map((a) => [
      a.action,
      a.count,
    ]),
  )
  console.log(`# zone report after one post: ${JSON.stringify(totals)}`)
  assert.equal(byAction.get('ban'), refused)
  assert.equal(byAction.get('block'), 1) // the bundle rule
  assert.equal(totals.rejected, refused + 1)
  const rules = report.body['topRules'] as { rule: string; action: string; count: number }[]
  assert.ok(
    rules.some((r) => r.rule === 'no-admin' && r.count === 1),
    JSON.stringify(rules),
  )
  assert.equal(totals.challenged, challenged)
  assert.ok(totals.served >= 4)
  const top = report.body['topClients'] as { ipHash: string; count: number }[]
  assert.ok(top.length >= 1)
  for (const c of top) assert.match(c.ipHash, /^[0-9a-f]{32}$/)
  assert.equal(top[0]?.ipHash, clientKey(protection.clientHash('127.0.0.2')))
  assert.doesNotMatch(JSON.stringify(report.body), /127\.0\.0\./)
  // A second post carries only what happened since (nothing): no double counting.
  await sync.flush(Date.now() + STATS_BUCKET_MS)
  const again = await h.call('GET', `/v1/zones/${ZONE}/security?hours=1`)
  assert.deepEqual(again.body['totals'], report.body['totals'])
})

test('stats: control plane unreachable → the batch is dropped and counted, nothing is kept', async (t) => {
  const protection = new Protection({ zones: { [HOST]: {} } })
  const sync = new ProtectionSync({
    url: 'https://127.0.0.1:9',
    cert: '',
    key: Buffer.alloc(0),
    ca: '',
    protection: () => protection,
    zones: () => [{ id: ZONE, hostnames: [HOST] }],
  })
  t.after(() => sync.stop())
  // Attach without the feed (no control plane): start() would wait for a snapshot.
  void sync.start().catch(() => undefined)
  await new Promise((r) => setTimeout(r, 1100)) // the 1 s watch attaches the engine
  protection.ban('198.51.100.7', Date.now() + 60_000)
  for (let i = 0; i < MAX_CLIENT_ROWS + 50; i++)
    protection.evaluate({
      zone: HOST,
      host: HOST,
      method: 'GET',
      path: '/',
      headers: {},
      ip: i === 0 ? '198.51.100.7' : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    })
  await sync.flush(Date.now() + STATS_BUCKET_MS)
  assert.equal(sync.stats.postFailures, 1)
  assert.ok(sync.stats.droppedCounters >= 2, JSON.stringify(sync.stats))
  assert.equal(sync.stats.droppedClients, 1) // the one banned client row, dropped with its batch
  await sync.flush(Date.now() + 2 * STATS_BUCKET_MS)
  assert.equal(sync.stats.postFailures, 1, 'nothing left to post: no queue')
})

test('reportedAction maps engine counters to the control plane actions', () => {
  assert.equal(reportedAction('ban', 'block'), 'ban')
  assert.equal(reportedAction('-', 'pass'), 'pass')
  assert.equal(reportedAction('login', 'rate-limit'), 'rate-limit')
  assert.equal(reportedAction('login', 'would-block'), 'would-block')
  assert.equal(reportedAction('challenge', 'solved'), 'pass')
  assert.equal(reportedAction('challenge', 'failed'), 'block')
  assert.equal(reportedAction('challenge', 'challenge'), 'challenge') // a rule named "challenge"
  assert.equal(reportedAction('x', 'solve'), undefined)
})

test('engine prefix bans: zone scope, every zone, expiry, IPv6, replacement', () => {
  let now = 1_000_000
  const p = new Protection({ zones: { a: {}, b: {} }, now: () => now })
  const ev = (zone: string, ip: string): number => {
    const d = p.evaluate({ zone, host: zone, method: 'GET', path: '/', headers: {}, ip })
    return d.kind === 'pass' ? 200 : d.status
  }
  p.setPrefixBans([
    { prefix: '203.0.113.0/24', zone: 'a', untilMs: now + 1000 },
    { prefix: '2001:db8::/32', untilMs: now + 5000 },
  ])
  assert.equal(ev('a', '203.0.113.77'), 403)
  assert.equal(ev('b', '203.0.113.77'), 200)
  assert.equal(ev('a', '203.0.114.1'), 200)
  assert.equal(ev('b', '2001:db8:1::5'), 403)
  assert.equal(ev('a', '::ffff:203.0.113.9'), 403)
  now += 1000
  assert.equal(ev('a', '203.0.113.77'), 200, 'expired')
  assert.equal(ev('a', '2001:db8::1'), 403)
  p.setPrefixBans([])
  assert.equal(ev('a', '2001:db8::1'), 200, 'replaced')
  assert.throws(() => {
    p.setPrefixBans([{ prefix: '10.0.0.0/33', untilMs: now + 1 }])
  }, /10\.0\.0\.0\/33/)
})
