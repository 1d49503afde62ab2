/**
 * Deterministic synthetic customers for the benchmark: a seeded PRNG
 * (mulberry32) mixing common given names and surnames of several cultures,
 * invented company names with legal forms, and a small share of real list
 * names with variants (Cyrillic, typos, reordering).
 */
import type { Entity } from '@outpost/screening'
import { romanise } from '@outpost/screening'

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const given = [
  'James',
  'Mary',
  'John',
  'Patricia',
  'Robert',
  'Jennifer',
  'Michael',
  'Linda',
  'David',
  'Elizabeth',
  'Ivan',
  'Olga',
  'Sergei',
  'Natalia',
  'Dmitry',
  'Elena',
  'Alexei',
  'Anna',
  'Mohammed',
  'Fatima',
  'Ahmed',
  'Aisha',
  'Ali',
  'Omar',
  'Wei',
  'Li',
  'Hiroshi',
  'Yuki',
  'Carlos',
  'Maria',
  'Jose',
  'Ana',
  'Pierre',
  'Marie',
  'Hans',
  'Anke',
  'Giulia',
  'Luca',
  'Priya',
  'Raj',
  'Oksana',
  'Andriy',
  'Kateryna',
  'Taras',
]
const surnames = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Garcia',
  'Miller',
  'Davis',
  'Ivanov',
  'Smirnov',
  'Kuznetsov',
  'Popova',
  'Sokolov',
  'Lebedev',
  'Kozlov',
  'Novikova',
  'Hassan',
  'Hussein',
  'Khan',
  'Rahman',
  'Abdullah',
  'Wang',
  'Zhang',
  'Chen',
  'Tanaka',
  'Suzuki',
  'Rodriguez',
  'Martinez',
  'Dubois',
  'Muller',
  'Schmidt',
  'Rossi',
  'Patel',
  'Sharma',
  'Shevchenko',
  'Bondarenko',
  'Kovalenko',
  'Tkachenko',
  'Nguyen',
  'Kim',
  'Park',
]
const words = [
  'Global',
  'Tech',
  'Solutions',
  'Media',
  'Northern',
  'Blue',
  'River',
  'Digital',
  'Trade',
  'Logistics',
  'Green',
  'Energy',
  'Capital',
  'Systems',
  'Cloud',
  'Studio',
  'Foods',
  'Motors',
  'Union',
  'Alpha',
  'Nova',
  'Vostok',
  'Sever',
  'Invest',
  'Stroy',
  'Consult',
  'Labs',
  'Data',
  'Net',
  'Web',
]
const forms = [
  'LLC',
  'Ltd',
  'GmbH',
  'OOO',
  'AO',
  'JSC',
  'Inc.',
  'S.A.',
  'B.V.',
  'PJSC',
  'ТОВ',
  'ООО',
]

export interface SyntheticQuery {
  readonly name: string
  readonly type: 'person' | 'organization'
}

function typo(s: string, rnd: () => number): string {
  if (s.length < 4) return s
  const i = 1 + Math.floor(rnd() * (s.length - 2))
  return s.slice(0, i) + s.slice(i + 1)
}

export function syntheticCustomers(
  n: number,
  entities: readonly Entity[],
  seed = 42,
): SyntheticQuery[] {
  const rnd = mulberry32(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T
  const listed = entities.filter((e) => e.type === 'person' || e.type === 'organization')
  const out: SyntheticQuery[] = []
  for (let i = 0; i < n; i++) {
    const r = rnd()
    if (r < 0.03 && listed.length > 0) {
      const e = pick(listed)
      const name = pick(e.names).full
      const v = rnd()
      const variant =
        v < 0.3 ? typo(name, rnd) : v < 0.5 ? name.split(/[ ,]+/).reverse().join(' ') : name
      out.push({ name: variant, type: e.type === 'person' ? 'person' : 'organization' })
    } else if (r < 0.65) {
      const g = pick(given)
      const s = pick(surnames)
      const name =
        rnd() < 0.1 ? romanise(`${g} ${s}`, 'icao') : rnd() < 0.5 ? `${g} ${s}` : `${s}, ${g}`
      out.push({ name, type: 'person' })
    } else {
      const k = 1 + Math.floor(rnd() * 3)
      const ws = Array.from({ length: k }, () => pick(words))
      out.push({ name: `${ws.join(' ')} ${pick(forms)}`, type: 'organization' })
    }
  }
  return out
}
