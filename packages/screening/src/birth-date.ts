/**
 * Dates of birth as the lists write them: "21 Mar 1950", "Mar 1950", "1962",
 * "circa 1960", "1960 to 1965", ISO "1950-03-21", UK "21/03/1950" and
 * "dd/mm/yyyy" with unknown parts as "00" or "dd".
 */
import type { BirthDate } from './model.ts'

const months: Readonly<Record<string, number>> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
}

function yearOk(y: number): boolean {
  return y >= 1850 && y <= 2100
}

function single(s: string): BirthDate | undefined {
  let m = /^(\d{1,2}) ([A-Za-z]{3})[a-z]* (\d{4})$/.exec(s)
  if (m) {
    const month = months[(m[2] ?? '').toLowerCase()]
    const y = Number(m[3])
    if (month !== undefined && yearOk(y)) return { year: y, month, day: Number(m[1]) }
  }
  m = /^([A-Za-z]{3})[a-z]* (\d{4})$/.exec(s)
  if (m) {
    const month = months[(m[1] ?? '').toLowerCase()]
    const y = Number(m[2])
    if (month !== undefined && yearOk(y)) return { year: y, month }
  }
  m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(s)
  if (m) {
    const y = Number(m[1])
    if (!yearOk(y)) return undefined
    const month = m[2] !== undefined ? Number(m[2]) : 0
    const day = m[3] !== undefined ? Number(m[3]) : 0
    if (month >= 1 && month <= 12 && day >= 1 && day <= 31) return { year: y, month, day }
    if (month >= 1 && month <= 12) return { year: y, month }
    return { year: y }
  }
  m = /^(\d{2}|dd)\/(\d{2}|mm)\/(\d{4})$/i.exec(s)
  if (m) {
    const y = Number(m[3])
    if (!yearOk(y)) return undefined
    const day = Number(m[1])
    const month = Number(m[2])
    if (month >= 1 && month <= 12 && day >= 1 && day <= 31) return { year: y, month, day }
    if (month >= 1 && month <= 12) return { year: y, month }
    return { year: y }
  }
  return undefined
}

/**
 * @example
 * ```ts
 * parseBirthDate('circa 1960') // { year: 1959, toYear: 1961 }
 * parseBirthDate('21 Mar 1950') // { year: 1950, month: 3, day: 21 }
 * ```
 */
export function parseBirthDate(text: string): BirthDate | undefined {
  const s = text.trim().replace(/\.$/, '')
  const circa = /^(?:circa|approximately|approx\.?|c\.)\s*(.+)$/i.exec(s)
  if (circa) {
    const d = single(circa[1] ?? '')
    return d ? { year: d.year - 1, toYear: d.year + 1 } : undefined
  }
  const range = /^(.+?)\s+(?:to|-)\s+(.+)$/i.exec(s)
  if (range) {
    const a = single(range[1] ?? '')
    const b = single(range[2] ?? '')
    if (a && b && b.year >= a.year) return { year: a.year, toYear: b.year }
    return undefined
  }
  return single(s)
}

/** Formats for display and storage: YYYY, YYYY-MM, YYYY-MM-DD or YYYY..YYYY. */
export function formatBirthDate(d: BirthDate): string {
  if (d.toYear !== undefined) return `${d.year}..${d.toYear}`
  const p = (n: number) => String(n).padStart(2, '0')
  if (d.month === undefined) return String(d.year)
  if (d.day === undefined) return `${d.year}-${p(d.month)}`
  return `${d.year}-${p(d.month)}-${p(d.day)}`
}
