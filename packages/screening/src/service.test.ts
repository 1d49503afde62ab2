import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ScreeningIndex } from './matcher.ts'
import type { Entity, ListVersion } from './model.ts'
import { mayStartPaidPlan } from './region-rules.ts'
import { entryHash, ScreeningService, type ScreeningEvent } from './service.ts'
import { SqliteScreeningStore } from './store.ts'

const sber: Entity = {
  id: 'us-ofac-sdn:17018',
  list: 'us-ofac-sdn',
  type: 'organization',
  names: [
    { full: 'PUBLIC JOINT STOCK COMPANY SBERBANK OF RUSSIA', kind: 'primary', script: 'latin' },
  ],
  birthDates: [],
  countries: ['RU'],
  identifiers: [],
  addresses: [],
  programs: ['RUSSIA-EO14024'],
  linkedTo: [],
}
const kiselyov: Entity = {
  id: 'us-ofac-sdn:16001',
  list: 'us-ofac-sdn',
  type: 'person',
  names: [{ full: 'KISELYOV, Dmitry Konstantinovich', kind: 'primary', script: 'latin' }],
  birthDates: [{ year: 1954, month: 4, day: 26 }],
  countries: ['RU'],
  identifiers: [],
  addresses: [],
  programs: ['UKRAINE-EO13660'],
  linkedTo: [],
}

function index(entities: Entity[], sha: string): ScreeningIndex {
  const v: ListVersion = {
    list: 'us-ofac-sdn',
    date: '2024-01-01',
    sha256: sha,
    files: [],
    entityCount: entities.length,
  }
  return new ScreeningIndex(entities, [v])
}

function setup(entities: Entity[]) {
  const events: ScreeningEvent[] = []
  const store = new SqliteScreeningStore(':memory:')
  const service = new ScreeningService({
    store,
    index: index(entities, 'a'),
    onEvent: (e) => events.push(e),
    now: () => new Date('2026-11-25T00:00:00Z'),
  })
  return { events, store, service }
}

test('ScreeningService.screenOrganisation() blocks a listed bank and emits blocked; clears others', () => {
  const { events, store, service } = setup([sber, kiselyov])
  const hit = service.screenOrganisation({
    id: 'org-1',
    name: 'ПАО Сбербанк',
    type: 'organization',
  })
  assert.equal(hit.decision, 'block')
  assert.deepEqual(events, [
    { kind: 'blocked', orgId: 'org-1', entryIds: ['us-ofac-sdn:17018'], reason: 'match' },
  ])
  const clean = service.screenOrganisation({
    id: 'org-2',
    name: 'Acme Widgets GmbH',
    type: 'organization',
  })
  assert.equal(clean.decision, 'clear')
  const stored = store.getDecision('org-1')
  assert.equal(stored?.decision, 'block')
  assert.deepEqual(stored.listVersions, ['us-ofac-sdn@2024-01-01#a'])
  assert.match(stored.evidence, /"matchedName":"PUBLIC JOINT STOCK COMPANY SBERBANK OF RUSSIA"/)
  store.close()
})

test('ScreeningService review: dismissal suppresses the pair until the entry changes', () => {
  const { events, store, service } = setup([sber, kiselyov])
  const org = { id: 'org-3', name: 'Dmitry Kiselyov', type: 'person' as const, dob: '1957-01-01' }
  assert.equal(service.screenOrganisation(org).decision, 'review')
  const [item] = service.reviewQueue()
  assert.ok(item)
  assert.equal(item.entryId, kiselyov.id)
  assert.equal(item.entryHash, entryHash(kiselyov))
  assert.equal(service.dismiss(item.id, 'analyst@example').decision, 'clear')
  assert.deepEqual(service.reviewQueue(), [])
  // Same entry, new list version: still suppressed.
  service.setIndex(index([sber, kiselyov], 'b'))
  assert.equal(service.decisionOf('org-3')?.decision, 'clear')
  // The list changes the entry (a new alias): the hit comes back for review.
  const changed: Entity = {
    ...kiselyov,
    names: [...kiselyov.names, { full: 'KISELEV, Dmitrii', kind: 'aka', script: 'latin' }],
  }
  service.setIndex(index([sber, changed], 'c'))
  assert.equal(service.decisionOf('org-3')?.decision, 'review')
  assert.equal(service.reviewQueue().length, 1)
  assert.ok(events.filter((e) => e.kind === 'review-opened').length === 2)
  store.close()
})

test('ScreeningService review: confirmation blocks and emits blocked', () => {
  const { events, store, service } = setup([sber, kiselyov])
  service.screenOrganisation({ id: 'org-4', name: 'Dmitry Kiselyov', type: 'person', dob: '1957' })
  const [item] = service.reviewQueue()
  assert.ok(item)
  assert.equal(
    service.confirm(item.id, 'analyst@example', 'same person, DOB typo').decision,
    'block',
  )
  assert.deepEqual(events.at(-1), {
    kind: 'blocked',
    orgId: 'org-4',
    entryIds: [kiselyov.id],
    reason: 'confirmed',
  })
  assert.throws(() => service.confirm(item.id, 'again'), /not open/)
  // Re-screening keeps the confirmed block.
  service.setIndex(index([sber, kiselyov], 'd'))
  assert.equal(service.decisionOf('org-4')?.decision, 'block')
  store.close()
})

test('ScreeningService.setIndex() re-screens on a version change: removal unblocks', () => {
  const { events, store, service } = setup([sber])
  service.screenOrganisation({ id: 'org-5', name: 'Sberbank of Russia', type: 'organization' })
  assert.deepEqual(service.setIndex(index([sber], 'a')), [], 'same versions: no re-screen')
  const out = service.setIndex(index([kiselyov], 'e'))
  assert.deepEqual(
    out.map((o) => [o.orgId, o.previous, o.decision]),
    [['org-5', 'block', 'clear']],
  )
  assert.deepEqual(events.at(-1), { kind: 'unblocked', orgId: 'org-5' })
  store.close()
})

test('mayStartPaidPlan() applies region rules to new paid plans only', () => {
  const rules = [
    { id: 'ru-by-2022', countries: ['RU', 'BY'], noNewPaidPlans: true },
    { id: 'ua-free', countries: ['UA'], noNewPaidPlans: false },
  ]
  assert.deepEqual(mayStartPaidPlan('ru', rules), {
    allowed: false,
    ruleId: 'ru-by-2022',
    reason: 'no new paid plans in RU (rule ru-by-2022)',
  })
  assert.equal(mayStartPaidPlan('BY', rules).allowed, false)
  assert.equal(mayStartPaidPlan('UA', rules).allowed, true)
  assert.equal(mayStartPaidPlan('DE', rules).allowed, true)
  assert.equal(mayStartPaidPlan(undefined, rules).allowed, true)
  assert.equal(mayStartPaidPlan(undefined, rules, { unknownCountry: 'deny' }).allowed, false)
  assert.equal(mayStartPaidPlan('RU', []).allowed, true)
})
