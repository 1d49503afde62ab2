/**
 * parseVector (Go `key_schedule_test.go`): finds `label` after `heading` in an
 * RFC 8448 trace pasted verbatim and returns the hex that follows "(N octets):"
 * up to the next blank line.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fromHex } from '@outpost/wire'

export function loadTrace(name: string): string {
  return readFileSync(join(import.meta.dirname, '..', 'vectors', 'rfc8448', name), 'utf8')
}

export function parseVector(text: string, heading: string, label: string): Uint8Array {
  const h = text.indexOf(heading)
  if (h < 0) throw new Error(`No heading '${heading}'`)
  const l = text.indexOf(`${label} (`, h)
  if (l < 0) throw new Error(`No label '${label}' after '${heading}'`)
  const colon = text.indexOf('):', l)
  const end = text.indexOf('\n\n', colon)
  const hex = text.slice(colon + 2, end < 0 ? undefined : end)
  const m = /\((\d+) octets\)/.exec(text.slice(l, colon + 2))
  const out = fromHex(hex)
  if (m?.[1] !== undefined && Number(m[1]) !== out.length) {
    throw new Error(`Vector '${label}' has ${out.length} bytes, expected ${m[1]}`)
  }
  return out
}
