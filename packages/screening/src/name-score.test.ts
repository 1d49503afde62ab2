import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { bestPairsScore, prepareName } from './name-score.ts'
import { defaultScoringConfig } from './scoring-config.ts'

/**
 * Golden scores `{indexed, query, type, score}` to 3 decimals (watchman's
 * jaro_winkler_test.go). Any scoring change must show up as a diff here:
 * asymmetric pairs in both directions, diacritics, "SURNAME, Given"
 * reordering, Cyrillic and Arabic script, legal forms moved or translated,
 * and known false positives (which must stay under the review threshold 0.8).
 */
const golden: [indexed: string, query: string, type: 'person' | 'organization', score: number][] = [
  ['PUTIN, Vladimir Vladimirovich', 'Vladimir Putin', 'person', 0.971],
  ['Vladimir Putin', 'PUTIN, Vladimir Vladimirovich', 'person', 0.971],
  ['PUTIN, Vladimir Vladimirovich', 'Владимир Владимирович Путин', 'person', 1.0],
  ['PUTIN, Vladimir Vladimirovich', 'Vladimir Vladimirovich', 'person', 0.923],
  ['PRIGOZHIN, Yevgeniy Viktorovich', 'Evgenii Prigojin', 'person', 0.938],
  ['PRIGOZHIN, Yevgeniy Viktorovich', 'Пригожин Евгений', 'person', 0.976],
  ['PRIGOZHIN, Pavel Evgenyevich', 'Yevgeniy Prigozhin', 'person', 0.583],
  ['Dmitry Konstantinovich KISELYOV', 'Dmitrii Kiselev', 'person', 0.973],
  ['Dmitry Konstantinovich KISELYOV', 'Dmitriy Kiselyev', 'person', 0.973],
  ['MADURO MOROS, Nicolas', 'nicolás maduro', 'person', 0.909],
  ['nicolás maduro', 'MADURO MOROS, Nicolas', 'person', 0.833],
  ['KHODORKOVSKY, Mikhail', 'Michail Chodorkowski', 'person', 0.9],
  ['ZELENSKYY, Volodymyr', 'Зеленський Володимир', 'person', 1.0],
  ['LUKASHENKO, Alexander Grigoryevich', 'Аляксандр Лукашэнка', 'person', 0.869],
  ['IVANOV, Ivan', 'Ivan Ivanova', 'person', 0.949],
  ['SMITH, John', 'Jon Smith', 'person', 1.0],
  ['SMITH, John', 'Jonathan Smithers', 'person', 0.0],
  ['ALI, Hassan', 'Ali Hassan Mohammed', 'person', 0.71],
  ['Ali Hassan Abdullah Mohammed', 'Ali Hassan', 'person', 0.71],
  ['ABID HAMID MAHMUD AL-TIKRITI', 'عابد حامد محمود التكريتي', 'person', 0.0],
  ['عابد حامد محمود التكريتي', 'عابد حامد محمود التكريتى', 'person', 1.0],
  ['PUBLIC JOINT STOCK COMPANY SBERBANK OF RUSSIA', 'Sberbank of Russia PJSC', 'organization', 1.0],
  ['PUBLIC JOINT STOCK COMPANY SBERBANK OF RUSSIA', 'ПАО Сбербанк России', 'organization', 1.0],
  ['SBERBANK ROSSII', 'Сбербанк России', 'organization', 1.0],
  ['PJSC SBERBANK', 'Sberbank', 'organization', 1.0],
  ['GAZPROMBANK JOINT STOCK COMPANY', 'АО Газпромбанк', 'organization', 1.0],
  ['GAZPROMBANK JOINT STOCK COMPANY', 'Gazprom Neft', 'organization', 0.0],
  ['OBSHCHESTVO S OGRANICHENNOI OTVETSTVENNOSTYU ROMASHKA', 'Romashka LLC', 'organization', 1.0],
  ['ROMASHKA, OOO', 'ООО «Ромашка»', 'organization', 1.0],
  ['BANK ROSSIYA', 'Bank Rossii', 'organization', 1.0],
  ['ALFA-BANK JSC', 'Alfa Insurance', 'organization', 0.417],
  ['ROSNEFT OIL COMPANY', 'Rosneft Trading S.A.', 'organization', 0.444],
  ['SIEMENS AKTIENGESELLSCHAFT', 'Siemens AG', 'organization', 1.0],
  ['ACME WIDGETS LIMITED', 'Acme Widgetz Ltd', 'organization', 1.0],
]

const score = (indexed: string, query: string, type: 'person' | 'organization') =>
  bestPairsScore(
    prepareName(query, type === 'person'),
    prepareName(indexed, type === 'person'),
    defaultScoringConfig,
  ).score

test('bestPairsScore() golden table', () => {
  const diffs: string[] = []
  for (const [indexed, query, type, want] of golden) {
    const got = Number(score(indexed, query, type).toFixed(3))
    if (got !== want) diffs.push(`${indexed} | ${query}: got ${got}, want ${want}`)
  }
  assert.deepEqual(diffs, [])
})

test('bestPairsScore() is 1 for a name against itself and in [0, 1] for any pair', () => {
  const name = fc
    .array(
      fc.constantFrom('ivan', 'petrov', 'Сбербанк', 'ali', 'al', 'hassan', 'ooo', 'x', 'bank'),
      {
        minLength: 1,
        maxLength: 5,
      },
    )
    .map((ts) => ts.join(' '))
  fc.assert(
    fc.property(name, name, fc.boolean(), (a, b, isPerson) => {
      const t = isPerson ? 'person' : 'organization'
      const s = score(a, b, t)
      assert.ok(s >= 0 && s <= 1 + 1e-9, `${a} / ${b}: ${s}`)
      assert.ok(Math.abs(score(a, a, t) - 1) < 1e-9, a)
    }),
    { numRuns: 300 },
  )
})
