/** DecisionFeedClient (the edge consumer) against a real control plane over mTLS. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type AddressInfo } from 'node:net'
import { createSecureContext } from 'node:tls'
import { DecisionFeedClient, type FeedDecision } from '../src/decision-feed-client.ts'
import { startHarness } from './harness.ts'

test('DecisionFeedClient: snapshot, under-attack and bans within 1 s, local TTL expiry, clean stop', async (t) => {
  const h = await startHarness()
  t.after(() => h.close())
  await h.call('PUT', '/v1/regions/ge-tbilisi', { name: 'Tbilisi', country: 'GE' })
  await h.call('POST', '/v1/orgs', {
    id: 'civil',
    name: 'Civil.ge',
    country: 'GE',
    region: 'ge-tbilisi',
  })
  await h.call('POST', '/v1/zones', {
    id: 'civil-web',
    orgId: 'civil',
    hostnames: ['civil.example'],
    origin: 'https://origin.civil.example',
  })
  const creds = await h.enrol('edge-7', 'ge-tbilisi')
  const changes: { at: number; decisions: readonly FeedDecision[] }[] = []
  const client = new DecisionFeedClient({
    url: h.cp.nodeUrl,
    cert: creds.certPem,
    key: creds.keyPem,
    ca: h.cp.nodeCaPem,
    servername: 'localhost',
    waitSeconds: 20,
    onChange: (decisions) => changes.push({ at: performance.now(), decisions }),
  })
  await client.start()
  t.after(() => client.stop())
  assert.equal(client.isUnderAttack('civil-web'), false)
  const until = async (f: () => boolean): Promise<void> => {
    const end = Date.now() + 5000
    while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 5))
  }

  await new Promise((r) => setTimeout(r, 200)) // the client is now parked in a long-poll
  const t0 = performance.now()
  await h.call('POST', '/v1/zones/civil-web/under-attack', { ttlSeconds: 1 })
  await until(() => client.isUnderAttack('civil-web'))
  const ms = performance.now() - t0
  console.log(
    `# feed client: under-attack visible at the edge ${ms.toFixed(1)} ms after the API call`,
  )
  assert.ok(client.isUnderAttack('civil-web'))
  assert.ok(ms < 1000)
  assert.equal(client.isUnderAttack('other-zone'), false)

  // Expiry needs no message from the control plane.
  await new Promise((r) => setTimeout(r, 1100))
  assert.equal(client.isUnderAttack('civil-web'), false)

  await h.call('POST', '/v1/bans', {
    prefix: '203.0.113.0/24',
    zoneId: 'civil-web',
    ttlSeconds: 60,
  })
  await h.call('POST', '/v1/bans', { prefix: '2001:db8:1::/48', ttlSeconds: 60 })
  await until(() => client.isBanned('2001:db8:1::5', 'any-zone'))
  assert.equal(client.isBanned('203.0.113.77', 'civil-web'), true)
  assert.equal(client.isBanned('203.0.113.77', 'other-zone'), false)
  assert.equal(client.isBanned('203.0.114.1', 'civil-web'), false)
  assert.equal(client.isBanned('2001:db8:1::5', 'any-zone'), true)
  assert.equal(client.isBanned('not-an-ip', 'civil-web'), false)
  assert.ok(changes.length >= 3)

  // Stop returns promptly even while a long-poll is open.
  const s0 = performance.now()
  await client.stop()
  assert.ok(performance.now() - s0 < 1000)
})

test('DecisionFeedClient: stop() ends a backoff sleep at once (nothing keeps the TLS context alive)', async () => {
  // A port nothing listens on: every poll fails, and the client sleeps 0.5, 1, 2 … s between.
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const { port } = probe.address() as AddressInfo
  await new Promise((r) => probe.close(r))
  const errors: Error[] = []
  const client = new DecisionFeedClient({
    url: `https://127.0.0.1:${port}`,
    cert: '',
    ca: '',
    secureContext: createSecureContext(),
    onError: (e) => {
      errors.push(e)
    },
  })
  void client.start()
  const end = Date.now() + 5000
  while (errors.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
  assert.ok(errors.length >= 2, 'polls failed and the client backed off')
  await new Promise((r) => setTimeout(r, 50)) // now inside the 1 s sleep
  const t0 = performance.now()
  await client.stop()
  const ms = performance.now() - t0
  assert.ok(ms < 200, `stop() took ${ms.toFixed(0)} ms`)
})
