/**
 * Rule matching: host, path glob, method, headers, content type. Compiled once per
 * config; each matcher is a handful of string compares or one RegExp test.
 */
import type { Headers } from './types.ts'
import type { Match } from './schema.ts'

/** `*` matches within a path segment, `**` across segments, `?` one character. */
export function globToRegExp(glob: string, segment = '/'): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] ?? ''
    if (ch === '*' && glob[i + 1] === '*') {
      re += '.*'
      i++
    } else if (ch === '*') re += segment === '' ? '.*' : `[^${segment}]*`
    else if (ch === '?') re += segment === '' ? '.' : `[^${segment}]`
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`, 's')
}

export function header(h: Headers, name: string): string | undefined {
  const v = h[name]
  return typeof v === 'string' ? v : v?.[0]
}

export interface Req {
  readonly host: string
  readonly method: string
  /** Path without the query. */
  readonly path: string
  readonly headers: Headers
}

export type Matcher = (r: Req) => boolean

export function compileMatch(m: Match): Matcher {
  const tests: Matcher[] = []
  if (m.hosts !== undefined) {
    const exact = new Set(m.hosts.filter((h) => !h.startsWith('*.')))
    const suffixes = m.hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1))
    tests.push((r) => {
      const h = r.host.toLowerCase()
      return exact.has(h) || suffixes.some((s) => h.endsWith(s))
    })
  }
  if (m.paths !== undefined) {
    const res = m.paths.map((p) => globToRegExp(p))
    tests.push((r) => res.some((re) => re.test(r.path)))
  }
  if (m.methods !== undefined) {
    const set = new Set(m.methods)
    tests.push((r) => set.has(r.method.toUpperCase()))
  }
  if (m.headers !== undefined) {
    for (const [name, want] of Object.entries(m.headers)) {
      if (want === true) tests.push((r) => header(r.headers, name) !== undefined)
      else if (want === false) tests.push((r) => header(r.headers, name) === undefined)
      else {
        const re = globToRegExp(want, '')
        tests.push((r) => {
          const v = header(r.headers, name)
          return v !== undefined && re.test(v)
        })
      }
    }
  }
  if (m.contentTypes !== undefined) {
    const set = new Set(m.contentTypes)
    tests.push((r) => {
      const ct = header(r.headers, 'content-type')
      if (ct === undefined) return false
      const semi = ct.indexOf(';')
      return set.has((semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase())
    })
  }
  return (r) => {
    for (const t of tests) if (!t(r)) return false
    return true
  }
}
