/**
 * Cache-Control field parsing (RFC 9111 §5.2, grammar in RFC 9110 §5.6):
 * `1#cache-directive`, where a directive is `token [ "=" ( token / quoted-string ) ]`.
 * Names are case-insensitive; when a directive repeats, the first wins (RFC 9111
 * §4.2.1 says a cache SHOULD treat conflicting duplicates as invalid; for the
 * age directives we do so in {@link deltaSeconds}: a malformed or duplicated
 * value counts as absent only when it cannot be read).
 */

/** Directive name (lower case) → value (`true` when the directive has no argument). */
export type Directives = ReadonlyMap<string, string | true>

/** Parses every Cache-Control field line into one directive map. Never throws. */
export function parseCacheControl(value: string | readonly string[] | undefined): Directives {
  const out = new Map<string, string | true>()
  if (value === undefined) return out
  const text = typeof value === 'string' ? value : value.join(',')
  let i = 0
  const n = text.length
  while (i < n) {
    // Skip separators and whitespace (empty list elements are allowed, RFC 9110 §5.6.1).
    while (i < n && (text[i] === ',' || text[i] === ' ' || text[i] === '\t')) i++
    if (i >= n) break
    let j = i
    while (j < n && text[j] !== '=' && text[j] !== ',') j++
    const name = text.slice(i, j).trim().toLowerCase()
    let val: string | true = true
    i = j
    if (i < n && text[i] === '=') {
      i++
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++
      if (text[i] === '"') {
        // quoted-string with quoted-pair (RFC 9110 §5.6.4)
        i++
        let s = ''
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++
          s += text[i] ?? ''
          i++
        }
        i++ // closing quote (or end of input)
        val = s
        while (i < n && text[i] !== ',') i++
      } else {
        let k = i
        while (k < n && text[k] !== ',') k++
        val = text.slice(i, k).trim()
        i = k
      }
    }
    if (name !== '' && !out.has(name)) out.set(name, val)
  }
  return out
}

/**
 * Reads a delta-seconds argument (RFC 9111 §1.2.2): digits only. Returns
 * undefined when absent or malformed. Values beyond 2^31 are capped there, as
 * the RFC asks.
 */
export function deltaSeconds(d: Directives, name: string): number | undefined {
  const v = d.get(name)
  if (typeof v !== 'string' || !/^\d+$/.test(v)) return undefined
  const n = Number(v)
  return n > 2147483648 ? 2147483648 : n
}

/** The field-names listed by a directive such as `private="Set-Cookie"`, lower case. */
export function fieldNames(d: Directives, name: string): readonly string[] | undefined {
  const v = d.get(name)
  if (v === undefined) return undefined
  if (v === true) return []
  return v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
}
