/**
 * A deliberately narrow HTTP/1.1 request-head parser for the front door
 * (front-door.ts): it recognises the plain requests a flood is made of — GET or
 * HEAD, origin-form target, HTTP/1.1, one Host, no body — and nothing else.
 * Everything it does not recognise is `unsupported` and goes to node:http,
 * whose parser (llhttp) is the one that answers malformed input (400, 431...).
 * So this parser never has to be right about an error, only about what it
 * accepts, and what it accepts it must read exactly as node:http would (a
 * differential test holds the two equal).
 *
 * Grammar (RFC 9112 §3, §5; RFC 9110 §5.6.2):
 *   request-line = method SP origin-form SP "HTTP/1.1" CRLF
 *   field-line   = field-name ":" OWS field-value OWS CRLF
 *   head         = request-line *( field-line ) CRLF
 * Stricter than the RFC where the RFC allows choices: no leading empty lines
 * (§2.2), no obs-fold (§5.2), CRLF only (no bare LF), target bytes 0x21–0x7E.
 */

/** node:http's default `maxHeaderSize` (16 KiB): a longer head is node's to refuse (431). */
export const MAX_HEAD_BYTES = 16 * 1024

export interface RequestHead {
  readonly method: 'GET' | 'HEAD'
  /** The request target as received (origin-form: path and query). */
  readonly url: string
  /** Field names lower-cased; repeated fields combined the way node:http combines them. */
  readonly headers: Record<string, string | string[]>
  readonly host: string
  /** `Connection: close` was sent: answer, then close. */
  readonly close: boolean
  /** Offset just past the head's final CRLF CRLF. */
  readonly end: number
}

/** Not (yet) a whole head: more bytes may complete it. */
export const INCOMPLETE = 0
/** A head this parser does not take; node:http must parse it. */
export const UNSUPPORTED = 1
export type HeadResult = RequestHead | typeof INCOMPLETE | typeof UNSUPPORTED

const CR = 0x0d
const LF = 0x0a
const SP = 0x20
const HTAB = 0x09
const COLON = 0x3a

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1

/**
 * Field-value bytes (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB. NUL, CR, LF
 * and other controls are not; a value holding one is node's to refuse.
 */
const VALUE = new Uint8Array(256)
VALUE[HTAB] = 1
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1

/**
 * Fields node:http keeps only the first of (`IncomingMessage#_addHeaderLine`):
 * a duplicate is dropped, not joined.
 */
const FIRST_ONLY = new Set([
  'content-type',
  'content-length',
  'user-agent',
  'referer',
  'host',
  'authorization',
  'proxy-authorization',
  'if-modified-since',
  'if-unmodified-since',
  'from',
  'location',
  'max-forwards',
  'retry-after',
  'etag',
  'last-modified',
  'server',
  'age',
  'expires',
])

/**
 * Fields whose presence means the request is not a plain bodiless one: a body
 * (§6), a protocol switch (RFC 9110 §7.8), an interim 100 (§10.1.1), or a
 * request that relies on hop-by-hop handling the front door does not do.
 */
const HANDS_OFF = new Set(['transfer-encoding', 'upgrade', 'expect', 'http2-settings'])

/**
 * Parses the request head that starts at `buf[start]`. Looks at no more than
 * MAX_HEAD_BYTES; never throws.
 */
export function parseRequestHead(buf: Buffer, start = 0): HeadResult {
  const limit = Math.min(buf.length, start + MAX_HEAD_BYTES)
  // Running out of bytes means "wait for more", unless the cap is what ran out.
  const more = limit - start >= MAX_HEAD_BYTES ? UNSUPPORTED : INCOMPLETE
  // Request line: method.
  let i = start
  let method: 'GET' | 'HEAD'
  if (
    limit - i >= 4 &&
    buf[i] === 0x47 && // G
    buf[i + 1] === 0x45 && // E
    buf[i + 2] === 0x54 && // T
    buf[i + 3] === SP
  ) {
    method = 'GET'
    i += 4
  } else if (
    limit - i >= 5 &&
    buf[i] === 0x48 && // H
    buf[i + 1] === 0x45 && // E
    buf[i + 2] === 0x41 && // A
    buf[i + 3] === 0x44 && // D
    buf[i + 4] === SP
  ) {
    method = 'HEAD'
    i += 5
  } else {
    return prefixOf(buf, start, limit, method4) ? more : UNSUPPORTED
  }
  // origin-form (RFC 9112 §3.2.1): starts with "/", visible ASCII only.
  const urlStart = i
  if (i < limit && buf[i] !== 0x2f) return UNSUPPORTED
  while (i < limit) {
    const c = buf[i] as number
    if (c === SP) break
    if (c < 0x21 || c > 0x7e) return UNSUPPORTED
    i++
  }
  if (i >= limit) return more
  if (i === urlStart) return UNSUPPORTED
  const url = latin1(buf, urlStart, i)
  i++ // SP
  // HTTP-version: HTTP/1.1 only (1.0 has other keep-alive rules; node decides those).
  for (let k = 0; k < VERSION.length; k++, i++) {
    if (i >= limit) return more
    if (buf[i] !== VERSION[k]) return UNSUPPORTED
  }
  // No prototype: a field named "constructor" or "__proto__" is just a field.
  const headers = Object.create(null) as Record<string, string | string[]>
  let host: string | undefined
  let close = false
  // Field lines until the empty line.
  for (;;) {
    if (i >= limit) return more
    if (buf[i] === CR) {
      if (i + 1 >= limit) return more
      if (buf[i + 1] !== LF) return UNSUPPORTED
      i += 2
      break
    }
    // field-name
    const nameStart = i
    while (i < limit && TCHAR[buf[i] as number] === 1) i++
    if (i >= limit) return more
    // obs-fold or whitespace before the colon (RFC 9112 §5.1, §5.2): node's to refuse.
    if (i === nameStart || buf[i] !== COLON) return UNSUPPORTED
    const name = latin1(buf, nameStart, i).toLowerCase()
    i++ // ":"
    while (i < limit && (buf[i] === SP || buf[i] === HTAB)) i++
    const valueStart = i
    while (i < limit && VALUE[buf[i] as number] === 1) i++
    if (i + 1 >= limit) return more
    if (buf[i] !== CR || buf[i + 1] !== LF) return UNSUPPORTED
    let valueEnd = i
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB))
      valueEnd--
    i += 2
    const value = latin1(buf, valueStart, valueEnd)
    if (HANDS_OFF.has(name)) return UNSUPPORTED
    if (name === 'content-length') {
      // A body: node must read it. "0" (or a repeat of it) is no body.
      if (value !== '0' || 'content-length' in headers) return UNSUPPORTED
    } else if (name === 'host') {
      // RFC 9112 §3.2: exactly one Host; a second one is a 400 that node sends.
      if (host !== undefined || value === '') return UNSUPPORTED
      host = value
    } else if (name === 'connection') {
      const tokens = value.toLowerCase()
      if (tokens.includes('upgrade')) return UNSUPPORTED
      if (/(?:^|[\s,])close(?:$|[\s,])/.test(tokens)) close = true
    }
    add(headers, name, value)
  }
  if (host === undefined) return UNSUPPORTED
  return { method, url, headers, host, close, end: i }
}

const VERSION = Buffer.from('HTTP/1.1\r\n', 'latin1')
const method4 = [Buffer.from('GET ', 'latin1'), Buffer.from('HEAD ', 'latin1')]

/** True when buf[start, limit) is a proper prefix of one of `words`. */
function prefixOf(buf: Buffer, start: number, limit: number, words: readonly Buffer[]): boolean {
  const n = limit - start
  outer: for (const w of words) {
    if (n >= w.length) continue
    for (let k = 0; k < n; k++) if (buf[start + k] !== w[k]) continue outer
    return true
  }
  return false
}

function latin1(buf: Buffer, from: number, to: number): string {
  return buf.toString('latin1', from, to)
}

/** Combines a repeated field like node:http's IncomingMessage does. */
function add(headers: Record<string, string | string[]>, name: string, value: string): void {
  const prev = headers[name]
  if (prev === undefined) {
    headers[name] = name === 'set-cookie' ? [value] : value
  } else if (name === 'set-cookie') {
    ;(prev as string[]).push(value)
  } else if (FIRST_ONLY.has(name)) {
    // dropped, as node does
  } else {
    headers[name] = `${prev as string}${name === 'cookie' ? '; ' : ', '}${value}`
  }
}
