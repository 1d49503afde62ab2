/**
 * Jaro-Winkler similarity (Winkler 1990): Jaro's matching-window agreement,
 * boosted for a shared prefix of up to 4 characters. Works on UTF-16 code
 * units, which is exact for the Latin, Cyrillic and Arabic letters we compare.
 *
 * @example
 * ```ts
 * jaroWinkler('martha', 'marhta') // 0.961
 * ```
 */
export function jaroWinkler(a: string, b: string, prefixScale = 0.1): number {
  if (a === b) return 1
  const la = a.length
  const lb = b.length
  if (la === 0 || lb === 0) return 0
  const window = Math.max(0, Math.floor(Math.max(la, lb) / 2) - 1)
  const aMatched = new Uint8Array(la)
  const bMatched = new Uint8Array(lb)
  let matches = 0
  for (let i = 0; i < la; i++) {
    const lo = Math.max(0, i - window)
    const hi = Math.min(lb - 1, i + window)
    for (let j = lo; j <= hi; j++) {
      if (bMatched[j] === 1 || a.charCodeAt(i) !== b.charCodeAt(j)) continue
      aMatched[i] = 1
      bMatched[j] = 1
      matches++
      break
    }
  }
  if (matches === 0) return 0
  let transpositions = 0
  let k = 0
  for (let i = 0; i < la; i++) {
    if (aMatched[i] !== 1) continue
    while (bMatched[k] !== 1) k++
    if (a.charCodeAt(i) !== b.charCodeAt(k)) transpositions++
    k++
  }
  const m = matches
  const jaro = (m / la + m / lb + (m - transpositions / 2) / m) / 3
  let prefix = 0
  const maxPrefix = Math.min(4, la, lb)
  while (prefix < maxPrefix && a.charCodeAt(prefix) === b.charCodeAt(prefix)) prefix++
  return jaro + prefix * prefixScale * (1 - jaro)
}
