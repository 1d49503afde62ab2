/**
 * JSON bodies that carry secrets (tokens shown once, STEKs in lease
 * responses) without the secret ever being a JS string: the document is
 * serialised with numbered placeholders, then the secret bytes (hex, written
 * straight into Buffers) are spliced in.
 */
import { hexBuffer } from './stek.ts'

/** A placeholder for `secrets[i]` inside a value passed to `secretJson`. */
export function secretSlot(i: number): string {
  return `\u0000${i}\u0000`
}

/** Serialises `value`, replacing each placeholder with the hex of `secrets[i]`. */
export function secretJson(value: unknown, secrets: readonly Uint8Array[]): Buffer {
  const text = JSON.stringify(value)
  const parts: Buffer[] = []
  const re = /\\u0000(\d+)\\u0000/g
  let last = 0
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    parts.push(Buffer.from(text.slice(last, m.index)))
    const s = secrets[Number(m[1])]
    if (s === undefined) throw new Error(`Cannot serialise: no secret ${m[1] ?? ''}`)
    parts.push(hexBuffer(s))
    last = m.index + m[0].length
  }
  parts.push(Buffer.from(text.slice(last)))
  const out = Buffer.concat(parts)
  for (const p of parts) p.fill(0)
  return out
}
