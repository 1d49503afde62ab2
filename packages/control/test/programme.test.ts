/**
 * The programme (AP19, AP20): application → signed partner referral →
 * sanctions screening → approval → active on plan `protected` at price zero,
 * each step audited; bad referrals refused with a clear reason; a region that
 * takes no new paid plans refuses `pro` but accepts the programme; no public
 * endpoint serves the protected organisations. On node:sqlite and PostgreSQL.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { ScreeningIndex, type Entity } from '@outpost/screening'
import { signReferral } from '../src/programme.ts'
import { startHarness, type Harness } from './harness.ts'
import { BACKENDS, stopPostgres } from './protection-helpers.ts'

after(() => stopPostgres())

const sanctioned: Entity = {
  id: 'un-sc:9',
  list: 'un-sc',
  type: 'organization',
  names: [{ full: 'Volga Trading Company', kind: 'primary', script: 'latin' }],
  birthDates: [],
  countries: ['RU'],
  identifiers: [],
  addresses: [],
  programs: [],
  linkedTo: [],
}

const application = (orgId: string, name: string): Record<string, unknown> => ({
  orgId,
  name,
  country: 'RU',
  region: 'ru-central',
  category: 'news',
  sites: [`${orgId}.example`],
  atRisk: 'Independent newsroom attacked after election coverage',
  contact: 'security@newsroom.example',
})

const msg = (b: Record<string, unknown>): string =>
  `${(b['error'] as { code: string } | undefined)?.code ?? ''}: ${(b['error'] as { message: string } | undefined)?.message ?? ''}`

async function apply(h: Harness, orgId: string, name: string): Promise<string> {
  const r = await h.call('POST', '/v1/programme/applications', application(orgId, name), null)
  assert.equal(r.status, 201, JSON.stringify(r.body))
  assert.deepEqual(Object.keys(r.body).sort(), ['id', 'state'])
  return String(r.body['id'])
}

for (const be of BACKENDS) {
  test(
    `programme (${be.name}): referral, screening, approval, activation on plan protected; region rules; nothing public`,
    { skip: be.skip ?? false, timeout: 60_000 },
    async (t) => {
      const h = await startHarness({ database: await be.database(t) })
      t.after(() => h.close())
      await h.cp.setScreeningIndex(
        new ScreeningIndex(
          [sanctioned],
          [
            {
              list: 'un-sc',
              date: '2026-01-01',
              sha256: 'b'.repeat(64),
              files: [],
              entityCount: 1,
            },
          ],
        ),
      )
      await h.call('PUT', '/v1/regions/ru-central', {
        name: 'Moscow',
        country: 'RU',
        risk: 'critical',
        noNewPaidPlans: true,
      })
      // The region rule: a new paid plan is refused there.
      const pro = await h.call('POST', '/v1/orgs', {
        id: 'paid',
        name: 'Paid Co',
        country: 'RU',
        region: 'ru-central',
        plan: 'pro',
      })
      assert.equal(pro.status, 403)
      assert.match(msg(pro.body), /ERR_CONTROL_REGION_NO_NEW_PAID_PLANS/)

      const partner = generateKeyPairSync('ed25519')
      const stranger = generateKeyPairSync('ed25519')
      const reg = await h.call('PUT', '/v1/programme/partners/cpj', {
        name: 'Committee to Protect Journalists',
        publicKeyPem: partner.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      })
      assert.equal(reg.status, 200, JSON.stringify(reg.body))
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const badKey = await h.call('PUT', '/v1/programme/partners/x', {
        name: 'X',
        publicKeyPem: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      })
      assert.match(msg(badKey.body), /expected Ed25519/)
      const aud = String(
        (await h.call('GET', '/v1/programme/audience', undefined, null)).body['audience'],
      )
      assert.match(aud, /^urn:outpost:control:[0-9a-f]{32}$/)

      const id = await apply(h, 'meduza', 'Meduza Project')
      const now = Math.floor(Date.now() / 1000)
      const good = { partner: 'cpj', aud, iat: now, exp: now + 3600, sub: id }
      const refer = (
        token: string,
        appId = id,
      ): Promise<{ status: number; body: Record<string, unknown> }> =>
        h.call('POST', `/v1/programme/applications/${appId}/referral`, { referral: token }, null)

      // Rejected referrals, each with its reason; the application stays submitted.
      const cases: [string, string, RegExp][] = [
        [
          'expired',
          signReferral({ ...good, iat: now - 7200, exp: now - 60 }, partner.privateKey),
          /expired at/,
        ],
        [
          'foreign audience',
          signReferral({ ...good, aud: 'urn:outpost:control:other' }, partner.privateKey),
          /audience .* is not this control plane/,
        ],
        [
          'unknown partner',
          signReferral({ ...good, partner: 'nobody' }, stranger.privateKey),
          /partner "nobody" is not registered/,
        ],
        [
          'bad signature',
          signReferral(good, stranger.privateKey),
          /bad signature for partner "cpj"/,
        ],
        [
          'other application',
          signReferral({ ...good, sub: 'apl_0000' }, partner.privateKey),
          /names neither application/,
        ],
        ['not a JWS', 'abc.def.ghi.jkl', /not a compact JWS/],
      ]
      for (const [what, token, re] of cases) {
        const r = await refer(token)
        assert.equal(r.status, 403, what)
        assert.match(msg(r.body), /ERR_CONTROL_REFERRAL_REJECTED/, what)
        assert.match(msg(r.body), re, what)
      }
      // Approval before referral and screening is refused.
      const early = await h.call('POST', `/v1/programme/applications/${id}/approve`)
      assert.equal(early.status, 409)

      // A good referral (scoped by organisation name) → partner_review → screening → screened.
      const ok = await refer(
        signReferral(
          { partner: 'cpj', aud, iat: now, exp: now + 3600, org: 'meduza  project' },
          partner.privateKey,
        ),
      )
      assert.equal(ok.status, 200, msg(ok.body))
      assert.deepEqual(ok.body, { id, state: 'screened' })
      const again = await refer(signReferral(good, partner.privateKey))
      assert.equal(again.status, 409)

      const approved = await h.call('POST', `/v1/programme/applications/${id}/approve`)
      assert.equal(approved.status, 200, msg(approved.body))
      const org = (await h.call('GET', '/v1/orgs/meduza')).body
      assert.equal(org['plan'], 'protected')
      assert.equal(org['status'], 'active')
      assert.equal(org['region'], 'ru-central') // a noNewPaidPlans region: protected is not paid
      const states = (
        (await h.call('GET', `/v1/programme/applications/${id}`)).body['history'] as {
          state: string
        }[]
      ).map((x) => x.state)
      assert.deepEqual(states, [
        'submitted',
        'partner_review',
        'screening',
        'screened',
        'approved',
        'active',
      ])
      const audit = (
        (await h.call('GET', '/v1/audit')).body['entries'] as { action: string; target: string }[]
      )
        .filter((e) => e.target === id)
        .map((e) => e.action)
      assert.deepEqual(audit, [
        'programme.submitted',
        'programme.partner_review',
        'programme.screening',
        'programme.screened',
        'programme.approved',
        'programme.active',
      ])
      assert.equal((await h.call('GET', '/v1/audit/verify')).body['ok'], true)

      // A sanctions hit goes to the human review queue and holds the application.
      const hitId = await apply(h, 'volga', 'Volga Trading Company')
      const held = await refer(signReferral({ ...good, sub: hitId }, partner.privateKey), hitId)
      assert.deepEqual(held.body, { id: hitId, state: 'review_hold' })
      const reviews = (await h.call('GET', '/v1/reviews')).body['reviews'] as {
        id: string
        orgId: string
        status: string
      }[]
      const review = reviews.find((r) => r.orgId === 'volga')
      assert.equal(review?.status, 'open')
      const blocked = await h.call('POST', `/v1/programme/applications/${hitId}/approve`)
      assert.equal(blocked.status, 409)
      assert.match(msg(blocked.body), /decide screening review/)
      await h.call('POST', `/v1/reviews/${review.id}/confirm`)
      const refused = await h.call('POST', `/v1/programme/applications/${hitId}/approve`)
      assert.equal(refused.status, 403)
      assert.equal(
        (await h.call('GET', `/v1/programme/applications/${hitId}`)).body['state'],
        'rejected',
      )
      assert.equal((await h.call('GET', '/v1/orgs/volga')).status, 404)

      // A referral scoped by organisation name is used once: a second application with the
      // same name cannot reuse it.
      const twin = await apply(h, 'meduza2', 'Meduza Project')
      const byName = signReferral(
        { partner: 'cpj', aud, iat: now, exp: now + 3600, org: 'Meduza Project' },
        partner.privateKey,
      )
      const twinOk = await refer(byName, twin)
      assert.equal(twinOk.status, 200, msg(twinOk.body))
      const third = await apply(h, 'meduza3', 'Meduza Project')
      const reused = await refer(byName, third)
      assert.equal(reused.status, 403)
      assert.match(msg(reused.body), new RegExp(`already used for application "${twin}"`))

      // A disabled partner's referrals are refused.
      await h.call('DELETE', '/v1/programme/partners/cpj')
      const late = await apply(h, 'late', 'Late Newsroom')
      const gone = await refer(signReferral({ ...good, sub: late }, partner.privateKey), late)
      assert.match(msg(gone.body), /not registered/)

      // AP20: no public (unauthenticated) endpoint serves the protected organisation.
      const publicGets = h.cp.routes.filter(
        (r) => r.scope === 'public' && r.method === 'GET' && !r.path.startsWith('/node/'),
      )
      assert.ok(publicGets.length >= 3)
      for (const r of publicGets) {
        const path = r.path.replace(/:[A-Za-z]+/g, 'meduza')
        const res = await fetch(h.cp.url + path)
        const text = await res.text()
        assert.doesNotMatch(text, /meduza|Meduza Project/i, `${r.path} leaks the protected org`)
      }
      for (const p of ['/v1/orgs', '/v1/programme/applications', '/v1/orgs/meduza']) {
        const res = await h.call('GET', p, undefined, null)
        assert.equal(res.status, 401, p)
        assert.doesNotMatch(JSON.stringify(res.body), /meduza/i)
      }
    },
  )
}

test('programme: the public form is rate limited per address (429 + Retry-After), nothing stored beyond it', async (t) => {
  const h = await startHarness({ programme: { applicationsPerHour: 2 } })
  t.after(() => h.close())
  await h.call('PUT', '/v1/regions/ru-central', { name: 'Moscow', country: 'RU' })
  await apply(h, 'ngo-1', 'First NGO')
  await apply(h, 'ngo-2', 'Second NGO')
  const third = await h.call(
    'POST',
    '/v1/programme/applications',
    application('ngo-3', 'Third NGO'),
    null,
  )
  assert.equal(third.status, 429, msg(third.body))
  assert.match(msg(third.body), /^ERR_CONTROL_RATE_LIMITED: /)
  // 2 per hour: the next one is 30 minutes away.
  const retry = Number(third.headers.get('retry-after'))
  assert.ok(retry > 1700 && retry <= 1800, `Retry-After ${retry}`)
  const list = await h.call('GET', '/v1/programme/applications')
  assert.equal((list.body['applications'] as unknown[]).length, 2, 'the refused one is not stored')
  await assert.rejects(
    startHarness({ programme: { applicationsPerHour: 0 } }),
    /programme\.applicationsPerHour/,
  )
})
