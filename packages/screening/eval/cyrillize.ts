/**
 * Latin → Russian Cyrillic, the reverse of BGN/PCGN-style romanisation as OFAC
 * writes Russian names (SHCH, KH, ZH, TS, YU, YA, YE, -IY, -YY). Used only to
 * build evaluation queries: "what a Russian speaker would type".
 */
const multi: [string, string][] = [
  ['shch', 'щ'],
  ['kh', 'х'],
  ['zh', 'ж'],
  ['ts', 'ц'],
  ['ch', 'ч'],
  ['sh', 'ш'],
  ['yu', 'ю'],
  ['ya', 'я'],
  ['yo', 'ё'],
  ['ye', 'е'],
]
const single: Record<string, string> = {
  a: 'а',
  b: 'б',
  v: 'в',
  g: 'г',
  d: 'д',
  e: 'е',
  z: 'з',
  i: 'и',
  k: 'к',
  l: 'л',
  m: 'м',
  n: 'н',
  o: 'о',
  p: 'п',
  r: 'р',
  s: 'с',
  t: 'т',
  u: 'у',
  f: 'ф',
  h: 'х',
  c: 'к',
  w: 'в',
  x: 'кс',
  j: 'дж',
  q: 'к',
  "'": 'ь',
}
const vowels = new Set(['a', 'e', 'i', 'o', 'u', 'y'])

function word(w: string): string {
  const s = w.toLowerCase()
  let out = ''
  let i = 0
  while (i < s.length) {
    const rest = s.slice(i)
    if (/^(iy|yy|ey|ay|oy|uy)$/.test(rest)) {
      out += { iy: 'ий', yy: 'ый', ey: 'ей', ay: 'ай', oy: 'ой', uy: 'уй' }[rest] ?? ''
      break
    }
    const m = multi.find(([l]) => rest.startsWith(l))
    if (m) {
      out += m[1]
      i += m[0].length
      continue
    }
    const c = s.charAt(i)
    if (c === 'y') {
      out += i > 0 && vowels.has(s.charAt(i - 1)) ? 'й' : 'ы'
    } else if (c === 'e' && (i === 0 || vowels.has(s.charAt(i - 1)))) {
      out += 'э'
    } else {
      out += single[c] ?? c
    }
    i++
  }
  return out
}

export function cyrillize(name: string): string {
  return name.replace(/[A-Za-z']+/g, (w) => {
    const c = word(w)
    return w === w.toUpperCase() && w.length > 1
      ? c.toUpperCase()
      : c.charAt(0).toUpperCase() + c.slice(1)
  })
}
