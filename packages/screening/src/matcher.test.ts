import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ScreeningError } from './errors.ts'
import { loadLists } from './lists.ts'
import { ScreeningIndex } from './matcher.ts'

const dir = new URL('../test/fixtures/lists/', import.meta.url).pathname
const index = ScreeningIndex.fromLists(await loadLists(dir))
const ids = (
  name: string,
  type: 'person' | 'organization',
  extra: { dob?: string; country?: string } = {},
) => index.screen({ name, type, ...extra }).map((m) => m.id)

test('ScreeningIndex.screen() finds a bank from Cyrillic, legal form moved, on every list', () => {
  for (const q of [
    'Сбербанк России',
    'ПАО Сбербанк',
    'Sberbank of Russia PJSC',
    'SBERBANK ROSSII OAO',
  ]) {
    const got = ids(q, 'organization')
    for (const want of ['us-ofac-sdn:17018', 'eu-fsf:160500', 'uk:RUS0254']) {
      assert.ok(got.includes(want), `${q}: ${got.join(', ')}`)
    }
  }
})

test('ScreeningIndex.screen() finds persons from Cyrillic and other romanisations', () => {
  assert.ok(ids('Владимир Путин', 'person').includes('us-ofac-sdn:22146'))
  assert.ok(ids('Dmitrii Kiselev', 'person').includes('eu-fsf:150321'))
  assert.ok(ids('Киселёв Дмитрий', 'person').includes('eu-fsf:150321'))
  assert.ok(ids('Umarov Doku Khamatovich', 'person').includes('un-sc:QDi.290'))
  assert.ok(ids('عابد حامد محمود التكريتي', 'person').includes('un-sc:IQi.004'))
})

test('ScreeningIndex.screen() respects entity types', () => {
  assert.deepEqual(ids('Sun Ship Test', 'organization'), [])
  assert.deepEqual(ids('Sun Ship Test', 'person'), [])
  assert.deepEqual(ids('Sberbank of Russia', 'person'), [])
  assert.deepEqual(ids('Vladimir Putin', 'organization'), [])
})

test('ScreeningIndex.screen() does not alert on a namesake born twenty years later', () => {
  const plain = index.screen({ name: 'Vladimir Putin', type: 'person' })
  assert.ok(plain.some((m) => m.id === 'us-ofac-sdn:22146' && m.decision === 'match'))
  assert.deepEqual(ids('Vladimir Putin', 'person', { dob: '1972-10-07' }), [])
  const same = index.screen({ name: 'Vladimir Putin', type: 'person', dob: '1952-10-07' })
  const hit = same.find((m) => m.id === 'us-ofac-sdn:22146')
  const before = plain.find((m) => m.id === 'us-ofac-sdn:22146')
  assert.ok(hit && before && hit.score >= before.score)
  assert.deepEqual(hit.evidence.features, [
    { feature: 'dob', contribution: 0.05, detail: 'exact date 1952-10-07' },
  ])
})

test('ScreeningIndex.screen() explains its scores', () => {
  const [m] = index.screen({ name: 'Путин Владимир', type: 'person', country: 'RU' })
  assert.ok(m)
  assert.equal(m.evidence.configVersion, index.config.version)
  assert.ok(m.evidence.pairs.some((p) => p.query === 'putin' && p.listed === 'putin'))
  assert.ok(m.evidence.features.some((f) => f.feature === 'country' && f.contribution > 0))
  const weak = index.screen({ name: 'Sberbank India', type: 'organization' })
  const w = weak.find((x) => x.id === 'us-ofac-sdn:17018')
  assert.ok(w && w.score <= index.config.weakAliasCap)
})

test('ScreeningIndex.screen() rejects a malformed dob', () => {
  assert.throws(
    () => index.screen({ name: 'X', type: 'person', dob: '07/10/1952' }),
    (e: unknown) => e instanceof ScreeningError && e.code === 'ERR_SCREENING_QUERY',
  )
})
