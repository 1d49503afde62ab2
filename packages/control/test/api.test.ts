/** The operator API end to end over loopback HTTP (node:sqlite in memory). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { nodeIdentityFromCert } from '@outpost/pki'
import { verifyBundle } from '../src/bundle.ts'
import { startHarness } from './harness.ts'

const err = (b: Record<string, unknown>): { code: string; message: string } =>
  b['error'] as { code: string; message: string }

test('control API: /openapi.json lists every registered route with schemas', async (t) => {
  const h = await startHarness()
  t.after(() => h.close())
  const r = await h.call('GET', '/openapi.json', undefined, null)
  assert.equal(r.status, 200)
  assert.equal(r.body['openapi'], '3.1.0')
  const paths = r.body['paths'] as Record<
    string,
    Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>
  >
  assert.ok(h.cp.routes.length >= 30, `only ${h.cp.routes.length} routes`)
  for (const route of h.cp.routes) {
    const p = route.path.replace(/:([A-Za-z]+)/g, '{$1}')
    const op = paths[p]?.[route.method.toLowerCase()]
    assert.ok(op, `${route.method} ${route.path} missing from OpenAPI`)
    if (route.body) assert.ok(op.requestBody, `${route.method} ${route.path} has no request schema`)
    assert.ok(Object.keys(op.responses).length >= 2)
  }
})

test('control API: error envelope, auth, scopes, body limit, validation', async (t) => {
  const h = await startHarness({ bodyLimitBytes: 2048 })
  t.after(() => h.close())
  const noTok = await h.call('GET', '/v1/orgs', undefined, null)
  assert.equal(noTok.status, 401)
  assert.equal(err(noTok.body).code, 'ERR_CONTROL_UNAUTHENTICATED')
  assert.ok(noTok.headers.get('x-request-id'))
  assert.match(noTok.headers.get('content-security-policy') ?? '', /default-src 'none'/)
  assert.equal((await h.call('GET', '/v1/orgs', undefined, 'opt_' + '0'.repeat(64))).status, 401)
  assert.equal(err((await h.call('GET', '/v1/nope')).body).code, 'ERR_CONTROL_NOT_FOUND')
  assert.equal((await h.call('DELETE', '/v1/orgs')).status, 405)
  const big = await h.call('PUT', '/v1/regions/eu-east', { name: 'x'.repeat(5000), country: 'UA' })
  assert.equal(big.status, 413)
  assert.equal(err(big.body).code, 'ERR_CONTROL_BODY_TOO_LARGE')
  const bad = await h.call('PUT', '/v1/regions/eu-east', { name: 'East', country: 'ukraine' })
  assert.equal(bad.status, 400)
  assert.match(err(bad.body).message, /country/)

  // A read-only token reads but cannot write; a revoked token is refused.
  const made = await h.call('POST', '/v1/tokens', { name: 'viewer', scopes: ['read'] })
  assert.equal(made.status, 201)
  const viewer = String(made.body['token'])
  assert.match(viewer, /^opt_[0-9a-f]{64}$/)
  assert.equal((await h.call('GET', '/v1/orgs', undefined, viewer)).status, 200)
  const denied = await h.call('PUT', '/v1/regions/eu-east', { name: 'East', country: 'UA' }, viewer)
  assert.equal(denied.status, 403)
  assert.equal(err(denied.body).code, 'ERR_CONTROL_FORBIDDEN')
  const listed = await h.call('GET', '/v1/tokens')
  assert.doesNotMatch(JSON.stringify(listed.body), /hash|opt_/)
  assert.equal((await h.call('DELETE', `/v1/tokens/${String(made.body['id'])}`)).status, 200)
  assert.equal((await h.call('GET', '/v1/orgs', undefined, viewer)).status, 401)
})

test('control API: organisations, region rules, zones, policies, fleet validation, audit', async (t) => {
  const h = await startHarness()
  t.after(() => h.close())
  assert.equal(
    (
      await h.call('PUT', '/v1/regions/ru-central', {
        name: 'Moscow',
        country: 'RU',
        risk: 'critical',
        noNewPaidPlans: true,
        leaseGraceSeconds: 15,
        stekRetentionSeconds: 3600,
      })
    ).status,
    200,
  )
  assert.equal(
    (await h.call('PUT', '/v1/regions/eu-west', { name: 'Paris', country: 'FR' })).status,
    200,
  )

  // No new paid plans in ru-central; protected (price zero) and free are fine.
  const paid = await h.call('POST', '/v1/orgs', {
    id: 'acme',
    name: 'Acme',
    country: 'RU',
    region: 'ru-central',
    plan: 'pro',
  })
  assert.equal(paid.status, 403)
  assert.equal(err(paid.body).code, 'ERR_CONTROL_REGION_NO_NEW_PAID_PLANS')
  assert.equal(
    (
      await h.call('POST', '/v1/orgs', {
        id: 'novaya',
        name: 'Novaya Gazeta',
        country: 'RU',
        region: 'ru-central',
        plan: 'protected',
      })
    ).status,
    201,
  )
  assert.equal(
    (
      await h.call('POST', '/v1/orgs', {
        id: 'acme',
        name: 'Acme',
        country: 'RU',
        region: 'ru-central',
      })
    ).status,
    201,
  )
  const up = await h.call('PATCH', '/v1/orgs/acme', { plan: 'business' })
  assert.equal(err(up.body).code, 'ERR_CONTROL_REGION_NO_NEW_PAID_PLANS')
  assert.equal(
    (
      await h.call('POST', '/v1/orgs', {
        id: 'acme',
        name: 'Acme',
        country: 'RU',
        region: 'ru-central',
      })
    ).status,
    409,
  )
  const eu = await h.call('POST', '/v1/orgs', {
    id: 'eu-co',
    name: 'EU Co',
    country: 'FR',
    region: 'eu-west',
    plan: 'business',
  })
  assert.equal(eu.status, 201)

  // Zones: public chains only.
  const withKey = await h.call('POST', '/v1/zones', {
    id: 'z1',
    orgId: 'acme',
    hostnames: ['acme.example'],
    origin: 'https://origin.acme.example',
    certificateChain:
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n',
  })
  assert.equal(withKey.status, 400)
  assert.equal(err(withKey.body).code, 'ERR_CONTROL_PRIVATE_KEY_REJECTED')
  assert.equal(
    (
      await h.call('POST', '/v1/zones', {
        id: 'z1',
        orgId: 'acme',
        hostnames: ['acme.example'],
        origin: 'https://origin.acme.example',
      })
    ).status,
    201,
  )

  // Key policy validated against the fleet.
  await h.call('PUT', '/v1/regions/de-fra', { name: 'Frankfurt', country: 'DE' })
  await h.enrol('edge-ru', 'ru-central')
  await h.enrol('edge-de', 'de-fra')
  await h.call('POST', '/v1/nodes', { id: 'edge-pending', region: 'de-fra' })
  assert.equal(
    (
      await h.call('PUT', '/v1/policies/no-ru', {
        id: 'no-ru',
        name: 'Not in Russia',
        denyCountries: ['RU'],
      })
    ).status,
    200,
  )
  const fleet = await h.call('GET', '/v1/policies/no-ru/fleet')
  assert.deepEqual(fleet.body, {
    policyId: 'no-ru',
    allowed: [{ nodeId: 'edge-de', region: 'de-fra', country: 'DE' }],
    denied: [
      { nodeId: 'edge-ru', region: 'ru-central', country: 'RU', reason: 'country "RU" is denied' },
    ],
  })

  // Every change above is in the audit log, and the chain verifies.
  const audit = await h.call('GET', '/v1/audit')
  const actions = (audit.body['entries'] as { action: string }[]).map((e) => e.action)
  for (const a of [
    'token.create',
    'region.put',
    'org.create',
    'zone.create',
    'node.register',
    'node.enrol',
    'policy.put',
  ]) {
    assert.ok(actions.includes(a), `audit lacks ${a}`)
  }
  assert.ok(!actions.includes('org.update'), 'the refused upgrade must not be audited as a change')
  const v = await h.call('GET', '/v1/audit/verify')
  assert.equal(v.body['ok'], true)
  assert.equal(v.body['count'], actions.length)
})

test('node API: enrolment by one-time token + CSR, mTLS lease with STEKs, signed bundle, revoke, kill', async (t) => {
  const h = await startHarness()
  t.after(() => h.close())
  await h.call('PUT', '/v1/regions/ua-kyiv', {
    name: 'Kyiv',
    country: 'UA',
    risk: 'high',
    leaseGraceSeconds: 20,
    stekRetentionSeconds: 7200,
  })
  const reg = await h.call('POST', '/v1/nodes', { id: 'edge-1', region: 'ua-kyiv' })
  assert.equal(reg.status, 201)
  assert.equal((reg.body['node'] as { state: string }).state, 'pending')
  const enrolToken = String(reg.body['enrolToken'])
  const bad = await h.call(
    'POST',
    '/v1/enrol',
    { nodeId: 'edge-1', token: 'opt_' + 'f'.repeat(64), csr: 'x' },
    null,
  )
  assert.equal(err(bad.body).code, 'ERR_CONTROL_ENROLMENT')

  const { createCsr, exportKeyPem } = await import('../src/node-ca.ts')
  const { csrPem, keys } = await createCsr('edge-1')
  const en = await h.call(
    'POST',
    '/v1/enrol',
    { nodeId: 'edge-1', token: enrolToken, csr: csrPem },
    null,
  )
  assert.equal(en.status, 200)
  const cert = new X509Certificate(String(en.body['certificatePem']))
  assert.deepEqual(nodeIdentityFromCert(cert), {
    nodeId: 'edge-1',
    region: 'ua-kyiv',
    country: 'UA',
  })
  assert.ok(cert.verify(new X509Certificate(h.cp.nodeCaPem).publicKey))
  // The token is single use.
  assert.equal(
    (await h.call('POST', '/v1/enrol', { nodeId: 'edge-1', token: enrolToken, csr: csrPem }, null))
      .status,
    403,
  )

  const creds = {
    certPem: String(en.body['certificatePem']),
    keyPem: await exportKeyPem(keys.privateKey),
  }
  const lease = await h.node(creds, 'POST', '/node/v1/lease')
  assert.equal(lease.status, 200)
  assert.equal(lease.body['graceSeconds'], 20)
  assert.ok(Date.parse(String(lease.body['leaseExpiresAt'])) > Date.now() + 15_000)
  const steks = lease.body['steks'] as { id: string; key: string; current: boolean }[]
  assert.equal(steks.length, 1)
  assert.match(steks[0]?.key ?? '', /^[0-9a-f]{64}$/)
  assert.match(steks[0]?.id ?? '', /^[0-9a-f]{32}$/)
  // Clearance-cookie keys ride along (current first), distinct from the STEK.
  const ck = lease.body['clearanceKeys'] as { epoch: number; key: string; current: boolean }[]
  assert.equal(ck.length, 1)
  const [ck0] = ck
  assert.ok(ck0)
  assert.equal(ck0.current, true)
  assert.match(ck0.key, /^[0-9a-f]{64}$/)
  assert.notEqual(ck0.key, steks[0]?.key)
  const nodes = await h.call('GET', '/v1/nodes')
  assert.ok((nodes.body['nodes'] as { lastLease?: string }[])[0]?.lastLease)

  const bundle = await h.node(creds, 'GET', '/node/v1/bundle')
  const payload = verifyBundle(bundle.body, h.cp.bundlePublicKey, 0)
  assert.equal(payload.version, lease.body['bundleVersion'])

  // A client certificate from another CA is refused at the TLS layer.
  const { createCa, issueNodeCert } = await import('@outpost/pki')
  const rogueCa = await createCa({ commonName: 'rogue' })
  const rogue = await issueNodeCert({
    ca: rogueCa,
    nodeId: 'edge-1',
    region: 'ua-kyiv',
    country: 'UA',
  })
  await assert.rejects(h.node(rogue, 'POST', '/node/v1/lease'))

  const rv = await h.call('POST', '/v1/nodes/edge-1/revoke')
  assert.equal((rv.body['node'] as { state: string }).state, 'revoked')
  const refused = await h.node(creds, 'POST', '/node/v1/lease')
  assert.equal(refused.status, 403)
  assert.equal(err(refused.body).code, 'ERR_CONTROL_NODE_REVOKED')
  await h.call('POST', '/v1/nodes/edge-1/kill')
  const killed = await h.node(creds, 'POST', '/node/v1/lease')
  assert.equal(killed.status, 410)
  assert.equal(err(killed.body).code, 'ERR_CONTROL_NODE_KILLED')
})
