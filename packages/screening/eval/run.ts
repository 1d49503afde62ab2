/**
 * `npm run eval:screening [LISTS_DIR]`: runs `cases.jsonl` against the lists
 * and prints recall (positives whose expected entry alerts, as match or
 * review) and false-positive rate (negatives that alert) by category and by
 * split (dev, used while tuning; holdout, not). Also scores the nomenklatura
 * name_bench pairs (MIT) name-against-name, as a second opinion on the name
 * similarity alone.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import {
  bestPairsScore,
  defaultScoringConfig,
  loadLists,
  prepareName,
  ScreeningIndex,
} from './deps.ts'
import type { EvalCase } from './build.ts'

const dir =
  process.argv[2] ?? fileURLToPath(new URL('../../../../shared/data/sanctions', import.meta.url))
const cases = readFileSync(new URL('cases.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as EvalCase)

const lists = await loadLists(dir, ['us-ofac-sdn', 'us-ofac-cons', 'un-sc'])
const index = ScreeningIndex.fromLists(lists)
const cfg = index.config

interface Tally {
  n: number
  ok: number
}
const table = new Map<string, { dev: Tally; holdout: Tally; positive: boolean }>()
const misses: string[] = []
const t0 = performance.now()
for (const c of cases) {
  const matches = index.screen(c.query)
  const alerted = c.positive
    ? matches.some((m) => c.expect.includes(m.id))
    : c.expect.length > 0
      ? matches.some((m) => c.expect.includes(m.id))
      : matches.length > 0
  const row = table.get(c.category) ?? {
    dev: { n: 0, ok: 0 },
    holdout: { n: 0, ok: 0 },
    positive: c.positive,
  }
  table.set(c.category, row)
  row[c.split].n++
  if (alerted) row[c.split].ok++
  if (c.split === 'dev' && alerted !== c.positive && misses.length < 400) {
    misses.push(
      `${c.positive ? 'MISS' : 'FP  '} ${c.category} ${JSON.stringify(c.query)} -> ${matches
        .slice(0, 2)
        .map((m) => `${m.id} ${m.evidence.matchedName} ${m.score}`)
        .join(' | ')}`,
    )
  }
}
const ms = performance.now() - t0

const pct = (t: Tally) => (t.n === 0 ? '   -  ' : `${((100 * t.ok) / t.n).toFixed(1).padStart(5)}%`)
console.log(
  `scoring config ${cfg.version}; lists ${lists.map((l) => `${l.version.list}@${l.version.date}`).join(', ')}`,
)
console.log(`${cases.length} cases in ${(ms / 1000).toFixed(1)} s\n`)
console.log(
  `${'category'.padEnd(26)} ${'metric'.padEnd(7)} ${'dev'.padStart(14)} ${'holdout'.padStart(14)}`,
)
const total = {
  pos: { dev: { n: 0, ok: 0 }, holdout: { n: 0, ok: 0 } },
  neg: { dev: { n: 0, ok: 0 }, holdout: { n: 0, ok: 0 } },
}
for (const [cat, r] of [...table].sort(
  (a, b) => Number(b[1].positive) - Number(a[1].positive) || a[0].localeCompare(b[0]),
)) {
  const metric = r.positive ? 'recall' : 'FPR'
  console.log(
    `${cat.padEnd(26)} ${metric.padEnd(7)} ${`${pct(r.dev)} (${r.dev.n})`.padStart(14)} ${`${pct(r.holdout)} (${r.holdout.n})`.padStart(14)}`,
  )
  const t = r.positive ? total.pos : total.neg
  for (const s of ['dev', 'holdout'] as const) {
    t[s].n += r[s].n
    t[s].ok += r[s].ok
  }
}
console.log(
  `${'ALL positives'.padEnd(26)} ${'recall'.padEnd(7)} ${`${pct(total.pos.dev)} (${total.pos.dev.n})`.padStart(14)} ${`${pct(total.pos.holdout)} (${total.pos.holdout.n})`.padStart(14)}`,
)
console.log(
  `${'ALL negatives'.padEnd(26)} ${'FPR'.padEnd(7)} ${`${pct(total.neg.dev)} (${total.neg.dev.n})`.padStart(14)} ${`${pct(total.neg.holdout)} (${total.neg.holdout.n})`.padStart(14)}`,
)

// nomenklatura name_bench: name against name, alert = score >= review threshold.
type Row = Record<string, string>
const bench = parse<Row>(
  readFileSync(join(dir, 'reference', 'nomenklatura-name_bench-cases.csv')),
  {
    columns: true,
  },
)
const nb = { tp: 0, fn: 0, fp: 0, tn: 0 }
for (const r of bench) {
  const isPerson = r['schema'] === 'Person'
  const s = bestPairsScore(
    prepareName(r['name1'] ?? '', isPerson),
    prepareName(r['name2'] ?? '', isPerson),
    defaultScoringConfig,
  ).score
  const alert = s >= cfg.reviewThreshold
  if (r['is_match'] === 'true') {
    if (alert) nb.tp++
    else nb.fn++
  } else if (alert) nb.fp++
  else nb.tn++
}
console.log(
  `\nnomenklatura name_bench (${bench.length} pairs, name only): recall ${((100 * nb.tp) / (nb.tp + nb.fn)).toFixed(1)}%, FPR ${((100 * nb.fp) / (nb.fp + nb.tn)).toFixed(1)}%`,
)
if (process.env['EVAL_SHOW_ERRORS'] === '1') console.log('\n' + misses.join('\n'))
