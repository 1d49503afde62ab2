import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import fc from 'fast-check'
import {
  INCOMPLETE,
  MAX_HEAD_BYTES,
  UNSUPPORTED,
  parseRequestHead,
  type HeadResult,
  type RequestHead,
} from './http1-head.ts'

const b = (s: string): Buffer => Buffer.from(s, 'latin1')

function accepted(r: HeadResult): RequestHead {
  assert.equal(
    typeof r,
    'object',
    `expected a head, got ${r === INCOMPLETE ? 'incomplete' : 'unsupported'}`,
  )
  return r as RequestHead
}

test('a plain GET: method, target, lower-cased fields, host and the end offset', () => {
  const text = 'GET /a/b?c=d HTTP/1.1\r\nHost: example.test\r\nUser-Agent: x/1\r\n\r\n'
  const h = accepted(parseRequestHead(b(text + 'GET /next')))
  assert.equal(h.method, 'GET')
  assert.equal(h.url, '/a/b?c=d')
  assert.equal(h.host, 'example.test')
  assert.equal(h.close, false)
  assert.equal(h.end, text.length)
  assert.deepEqual({ ...h.headers }, { host: 'example.test', 'user-agent': 'x/1' })
})

test('HEAD, a second head at an offset, and Connection: close among other tokens', () => {
  const first = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'
  const second = 'HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n'
  const buf = b(first + second)
  const h1 = accepted(parseRequestHead(buf, 0))
  const h2 = accepted(parseRequestHead(buf, h1.end))
  assert.equal(h2.method, 'HEAD')
  assert.equal(h2.url, '/x')
  assert.equal(h2.close, true)
  assert.equal(h2.end, buf.length)
  const notClose = accepted(
    parseRequestHead(b('GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n')),
  )
  assert.equal(notClose.close, false, '"closed" is not the close option')
})

test('repeated fields are combined as node:http combines them', () => {
  const h = accepted(
    parseRequestHead(
      b(
        'GET / HTTP/1.1\r\nHost: a\r\nAccept: x\r\naccept: y\r\nCookie: a=1\r\nCookie: b=2\r\n' +
          'Set-Cookie: s=1\r\nSet-Cookie: s=2\r\nUser-Agent: first\r\nUser-Agent: second\r\n' +
          'X-Pad:   spaced value \t \r\n__proto__: p\r\n\r\n',
      ),
    ),
  )
  assert.equal(h.headers['accept'], 'x, y')
  assert.equal(h.headers['cookie'], 'a=1; b=2')
  assert.deepEqual(h.headers['set-cookie'], ['s=1', 's=2'])
  assert.equal(h.headers['user-agent'], 'first', 'first-only fields keep the first')
  assert.equal(h.headers['x-pad'], 'spaced value', 'OWS trimmed on both sides')
  assert.equal(Object.getPrototypeOf(h.headers), null)
  assert.equal(h.headers['__proto__'], 'p', '__proto__ is just a field name')
})

test('Content-Length: 0 is no body; any other length is unsupported', () => {
  accepted(parseRequestHead(b('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n')))
  for (const v of ['1', '00', '0, 0', ' 5']) {
    assert.equal(
      parseRequestHead(b(`GET / HTTP/1.1\r\nHost: a\r\nContent-Length: ${v}\r\n\r\n`)),
      UNSUPPORTED,
      v,
    )
  }
  assert.equal(
    parseRequestHead(
      b('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n'),
    ),
    UNSUPPORTED,
    'a repeated Content-Length is node:http’s to judge',
  )
})

test('everything but plain bodiless HTTP/1.1 GET/HEAD with one Host is unsupported', () => {
  const cases: Record<string, string> = {
    post: 'POST / HTTP/1.1\r\nHost: a\r\n\r\n',
    lowercaseMethod: 'get / HTTP/1.1\r\nHost: a\r\n\r\n',
    http10: 'GET / HTTP/1.0\r\nHost: a\r\n\r\n',
    http2preface: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    absoluteForm: 'GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n',
    asterisk: 'GET * HTTP/1.1\r\nHost: a\r\n\r\n',
    emptyTarget: 'GET  HTTP/1.1\r\nHost: a\r\n\r\n',
    controlInTarget: 'GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n',
    nonAsciiTarget: 'GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n',
    noHost: 'GET / HTTP/1.1\r\nAccept: x\r\n\r\n',
    emptyHost: 'GET / HTTP/1.1\r\nHost:\r\n\r\n',
    twoHosts: 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    transferEncoding: 'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n',
    upgrade: 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n',
    connectionUpgrade: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n',
    expect: 'GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n',
    h2c: 'GET / HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: AAA\r\n\r\n',
    obsFold: 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n',
    spaceBeforeColon: 'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
    bareLfLine: 'GET / HTTP/1.1\nHost: a\r\n\r\n',
    bareLfField: 'GET / HTTP/1.1\r\nHost: a\n\r\n',
    bareLfEnd: 'GET / HTTP/1.1\r\nHost: a\r\n\n',
    crInValue: 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\r2\r\n\r\n',
    nulInValue: 'GET / HTTP/1.1\r\nHost: a\r\nX: 1\x002\r\n\r\n',
    leadingEmptyLine: '\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n',
    badNameChar: 'GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n',
    emptyName: 'GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n',
  }
  for (const [name, text] of Object.entries(cases)) {
    assert.equal(parseRequestHead(b(text)), UNSUPPORTED, name)
  }
})

test('every proper prefix of an accepted head is incomplete', () => {
  const text =
    'HEAD /p?q HTTP/1.1\r\nHost: h.test\r\nAccept: */*\r\nX-Empty:\r\nConnection: close\r\n\r\n'
  accepted(parseRequestHead(b(text)))
  for (let n = 0; n < text.length; n++) {
    assert.equal(parseRequestHead(b(text.slice(0, n))), INCOMPLETE, `prefix of ${n} bytes`)
  }
})

test('a head that has not ended within 16 KiB is unsupported, not incomplete', () => {
  const start = 'GET / HTTP/1.1\r\nHost: a\r\nX-Big: '
  const long = b(start + 'v'.repeat(MAX_HEAD_BYTES))
  assert.equal(parseRequestHead(long), UNSUPPORTED)
  assert.equal(parseRequestHead(b(start + 'v'.repeat(100))), INCOMPLETE)
  // Just under the cap, whole: accepted.
  const fits = start + 'v'.repeat(MAX_HEAD_BYTES - start.length - 4) + '\r\n\r\n'
  assert.equal(accepted(parseRequestHead(b(fits))).end, MAX_HEAD_BYTES)
})

test('never throws and never reads past its input (fuzz)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(310), (bytes, start) => {
      const r = parseRequestHead(Buffer.from(bytes), start)
      if (typeof r === 'object') assert.ok(r.end <= bytes.length && r.end > start)
    }),
    { numRuns: 2000 },
  )
})

// --- differential: what the front door accepts, node:http reads the same way --------------

const tokenChar = fc.constantFrom(...'abcxyzABCXYZ019-_.!#$%&*+^`|~'.split(''))
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 })
const valueChar = fc.constantFrom(
  ...'az AZ09 \t!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'.split(''),
  '\x80',
  '\xe9',
  '\xff',
)
const value = fc.string({ unit: valueChar, maxLength: 24 })
const pathChar = fc.constantFrom(...'az09/-._~%!$&()*+,;=:@?'.split(''))
const path = fc.string({ unit: pathChar, maxLength: 24 }).map((s) => `/${s}`)
const field = fc.oneof(
  fc.tuple(token, value),
  fc.tuple(
    fc.constantFrom(
      'Host',
      'Cookie',
      'Set-Cookie',
      'User-Agent',
      'Accept',
      'Connection',
      'Content-Length',
      'Content-Type',
      'X-Forwarded-For',
      'Transfer-Encoding',
    ),
    fc.oneof(value, fc.constantFrom('0', 'close', 'keep-alive', 'chunked', '5')),
  ),
)
/** Heads near the accepted language: mostly well-formed, some broken by a mutation. */
const head = fc
  .record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'get'),
    path,
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0'),
    host: fc.option(fc.string({ unit: tokenChar, minLength: 1, maxLength: 10 }), {
      freq: 8,
      nil: undefined,
    }),
    fields: fc.array(field, { maxLength: 6 }),
    ows: fc.constantFrom('', ' ', '  ', '\t'),
    // One in four heads has one byte replaced.
    mutate: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 3 },
      {
        arbitrary: fc.tuple(fc.nat(200), fc.constantFrom('\n', '\r', ' ', ':', '\x00')),
        weight: 1,
      },
    ),
  })
  .map((r) => {
    let text = `${r.method} ${r.path} ${r.version}\r\n`
    if (r.host !== undefined) text += `Host: ${r.host}\r\n`
    for (const [n, v] of r.fields) text += `${n}:${r.ows}${v}${r.ows}\r\n`
    text += '\r\n'
    if (r.mutate !== undefined) {
      const at = r.mutate[0] % text.length
      text = text.slice(0, at) + r.mutate[1] + text.slice(at + 1)
    }
    return text
  })

interface Seen {
  readonly method: string | undefined
  readonly url: string | undefined
  readonly headers: IncomingHttpHeaders
}

test(
  'differential: every head the front door accepts, node:http parses to the same request and the same end',
  { timeout: 120_000 },
  async () => {
    const seen: Seen[] = []
    const server = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers })
      req.resume()
      res.end('ok')
    })
    // The front door refuses what node's lenient mode would take; node runs as the edge does.
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    /** Sends `bytes` then a sentinel request on one connection; node's reading of both. */
    const send = (bytes: Buffer): Promise<Seen[]> =>
      new Promise((resolve, reject) => {
        seen.length = 0
        const s = connect(port, '127.0.0.1')
        s.on('error', reject)
        s.resume()
        s.on('close', () => {
          resolve([...seen])
        })
        s.end(
          Buffer.concat([
            bytes,
            b('GET /sentinel HTTP/1.1\r\nHost: s\r\nConnection: close\r\n\r\n'),
          ]),
        )
      })
    let compared = 0
    try {
      await fc.assert(
        fc.asyncProperty(head, async (text) => {
          const r = parseRequestHead(b(text))
          if (typeof r !== 'object') return
          compared++
          const got = await send(b(text).subarray(0, r.end))
          // After Connection: close node reads no further, as the front door does.
          const want = r.close ? 1 : 2
          assert.equal(
            got.length,
            want,
            `node read ${want} request(s) from ${JSON.stringify(text)}`,
          )
          const [first, sentinel] = got as [Seen, Seen | undefined]
          assert.equal(first.method, r.method)
          assert.equal(first.url, r.url)
          assert.deepEqual({ ...first.headers }, { ...r.headers })
          if (!r.close) {
            assert.equal(sentinel?.url, '/sentinel', 'node ended the head where the front door did')
          }
        }),
        { numRuns: 800 },
      )
      assert.ok(compared >= 100, `only ${compared} accepted heads were compared`)
    } finally {
      server.close()
    }
  },
)
