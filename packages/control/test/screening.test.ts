/** Screening wired into the control plane: /v1/screen, sign-up holds, the review queue, re-screening. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ScreeningIndex, type Entity, type ListVersion } from '@outpost/screening'
import { verifyBundle } from '../src/bundle.ts'
import { startHarness } from './harness.ts'

const entity = (id: string, name: string): Entity => ({
  id: `un-sc:${id}`,
  list: 'un-sc',
  type: 'organization',
  names: [{ full: name, kind: 'primary', script: 'latin' }],
  birthDates: [],
  countries: ['RU'],
  identifiers: [],
  addresses: [],
  programs: [],
  linkedTo: [],
})
const version = (sha: string): ListVersion => ({
  list: 'un-sc',
  date: '2026-01-01',
  sha256: sha,
  files: [],
  entityCount: 1,
})

test('screening: sign-up hold, review confirm blocks and unserves zones, dismiss clears, list change re-screens', async (t) => {
  const h = await startHarness()
  t.after(() => h.close())
  const none = await h.call('POST', '/v1/screen', { name: 'Acme', type: 'organization' })
  assert.equal(none.status, 503)
  await h.cp.setScreeningIndex(
    new ScreeningIndex([entity('1', 'Volga Trading Company')], [version('a'.repeat(64))]),
  )

  const hit = await h.call('POST', '/v1/screen', {
    name: 'Volga Trading Company',
    type: 'organization',
    country: 'RU',
  })
  assert.equal(hit.status, 200)
  const matches = hit.body['matches'] as { id: string; decision: string }[]
  assert.equal(matches[0]?.id, 'un-sc:1')
  const miss = await h.call('POST', '/v1/screen', {
    name: 'Completely Different Bakery',
    type: 'organization',
  })
  assert.deepEqual(miss.body, { matches: [] })

  await h.call('PUT', '/v1/regions/ru-central', { name: 'Moscow', country: 'RU' })
  const su = await h.call('POST', '/v1/orgs', {
    id: 'volga',
    name: 'Volga Trading Company',
    country: 'RU',
    region: 'ru-central',
  })
  assert.equal(su.status, 201)
  assert.equal((su.body['org'] as { status: string }).status, 'pending-review')
  const reviewId = (su.body['review'] as { id: string }).id
  await h.call('POST', '/v1/orgs', {
    id: 'bakery',
    name: 'Completely Different Bakery',
    country: 'RU',
    region: 'ru-central',
  })
  await h.call('POST', '/v1/zones', {
    id: 'zv',
    orgId: 'volga',
    hostnames: ['volga.example'],
    origin: 'https://o.volga.example',
  })
  await h.call('POST', '/v1/zones', {
    id: 'zb',
    orgId: 'bakery',
    hostnames: ['bakery.example'],
    origin: 'https://o.bakery.example',
  })
  const served = async (): Promise<string[]> => {
    const b = await h.call('GET', '/v1/bundle')
    return verifyBundle(b.body, h.cp.bundlePublicKey, 0).zones.map((z) => z.id)
  }
  assert.deepEqual(await served(), ['zb'], 'a held organisation is not served')
  const activate = await h.call('PATCH', '/v1/orgs/volga', { status: 'active' })
  assert.equal((activate.body['error'] as { code: string }).code, 'ERR_CONTROL_ORG_BLOCKED')

  const conf = await h.call('POST', `/v1/reviews/${reviewId}/confirm`)
  assert.equal((conf.body['org'] as { status: string }).status, 'blocked')
  assert.deepEqual(await served(), ['zb'])
  assert.equal((await h.call('POST', `/v1/reviews/${reviewId}/dismiss`)).status, 409)

  // A new list version that lists the bakery: re-screening opens a review and holds it.
  const r = await h.cp.setScreeningIndex(
    new ScreeningIndex(
      [entity('1', 'Volga Trading Company'), entity('2', 'Completely Different Bakery')],
      [version('b'.repeat(64))],
    ),
  )
  assert.deepEqual(r, { changed: true, reviewsOpened: 1 })
  assert.deepEqual(await served(), [])
  const same = await h.cp.setScreeningIndex(h.cp.app.screening)
  assert.deepEqual(same, { changed: false, reviewsOpened: 0 })
  const queue = (await h.call('GET', '/v1/reviews')).body['reviews'] as {
    id: string
    orgId: string
    status: string
  }[]
  const open = queue.find((q) => q.orgId === 'bakery' && q.status === 'open')
  assert.ok(open)
  const dis = await h.call('POST', `/v1/reviews/${open.id}/dismiss`)
  assert.equal((dis.body['org'] as { status: string }).status, 'active')
  assert.deepEqual(await served(), ['zb'])
})
