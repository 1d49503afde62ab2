/**
 * Loads the real shared lists (OFAC SDN + consolidated, UN) and checks that
 * known entities are found from Cyrillic and alternative romanisations, and
 * that a namesake with another date of birth is not.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadLists, ScreeningIndex } from '@outpost/screening'
import { hasSharedLists, sharedLists } from './shared-lists.ts'

const skip = hasSharedLists ? false : `no shared lists at ${sharedLists}`
const index = hasSharedLists ? ScreeningIndex.fromLists(await loadLists(sharedLists)) : undefined

const cases: [query: string, type: 'person' | 'organization', id: string][] = [
  ['ПАО Сбербанк', 'organization', 'us-ofac-sdn:17018'],
  ['Sberbank Rossii PAO', 'organization', 'us-ofac-sdn:17018'],
  ['АО Банк Россия', 'organization', 'us-ofac-sdn:16681'],
  ['Газпромбанк', 'organization', 'us-ofac-cons:17016'],
  ['Пригожин Евгений Викторович', 'person', 'us-ofac-sdn:21171'],
  ['Evgenii Prigozhin', 'person', 'us-ofac-sdn:21171'],
  ['Jewgeni Prigoschin', 'person', 'us-ofac-sdn:21171'],
  ['Умаров Доку', 'person', 'un-sc:QDi.290'],
  ['Doku Umarov', 'person', 'us-ofac-sdn:12110'],
  ['عابد حامد محمود التكريتي', 'person', 'un-sc:IQi.004'],
]

test('real lists: known entities are found from Cyrillic and other romanisations', { skip }, () => {
  assert.ok(index)
  const misses = cases.filter(
    ([q, type, id]) => !index.screen({ name: q, type }).some((m) => m.id === id),
  )
  assert.deepEqual(misses, [])
})

test('real lists: a namesake born twenty years later does not alert', { skip }, () => {
  assert.ok(index)
  const same = index.screen({ name: 'Yevgeniy Prigozhin', type: 'person', dob: '1961-06-01' })
  assert.ok(same.some((m) => m.id === 'us-ofac-sdn:21171'))
  const later = index.screen({ name: 'Yevgeniy Prigozhin', type: 'person', dob: '1981-06-01' })
  assert.ok(
    !later.some((m) => m.id === 'us-ofac-sdn:21171'),
    JSON.stringify(later.map((m) => m.id)),
  )
})

test('real lists: an ordinary customer is clear', { skip }, () => {
  assert.ok(index)
  assert.deepEqual(index.screen({ name: 'Northwind Traders GmbH', type: 'organization' }), [])
})
