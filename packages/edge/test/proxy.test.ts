import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import http2 from 'node:http2'
import { connect } from 'node:net'
import { Readable, type Duplex } from 'node:stream'
import { request } from 'undici'
import { rawRequest, startOrigin, startTestEdge } from './harness.ts'

test('proxy: forwards with Forwarded, X-Forwarded-* and Via, strips hop-by-hop headers', async () => {
  const origin = await startOrigin((_req, res) => {
    res.setHeader('connection', 'x-secret-hop')
    res.setHeader('x-secret-hop', 'hidden')
    res.setHeader('keep-alive', 'timeout=5')
    res.setHeader('x-origin', 'yes')
    res.setHeader('cache-control', 'no-store')
    res.end('hello from origin')
  })
  const f = await startTestEdge(origin.url)
  try {
    const raw = await rawRequest(
      f.edge.address,
      'GET /a/b?c=1 HTTP/1.1\r\nHost: site.test\r\nConnection: x-drop-me, close\r\n' +
        'X-Drop-Me: 1\r\nX-Keep-Me: 2\r\nTE: trailers\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n',
    )
    const [head = '', body] = raw.split('\r\n\r\n')
    assert.match(head, /^HTTP\/1\.1 200 /)
    assert.equal(body, 'hello from origin')
    assert.match(head, /\r\nx-origin: yes\r\n/i)
    assert.doesNotMatch(head, /x-secret-hop/i)
    assert.doesNotMatch(head, /keep-alive: timeout=5/i)
    assert.match(head, /\r\nvia: 1\.1 outpost\r\n/i)
    const seen = origin.seen.at(-1)!
    assert.equal(seen.url, '/a/b?c=1')
    assert.equal(seen.headers['x-drop-me'], undefined)
    assert.equal(seen.headers['x-keep-me'], '2')
    assert.equal(seen.headers['te'], undefined)
    assert.equal(seen.headers['host'], 'site.test')
    assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1')
    assert.equal(seen.headers['x-forwarded-proto'], 'http')
    assert.equal(seen.headers['x-forwarded-host'], 'site.test')
    assert.equal(seen.headers['forwarded'], 'for=127.0.0.1;host=site.test;proto=http')
    assert.equal(seen.headers['via'], '1.1 outpost')
  } finally {
    await f.close()
    await origin.close()
  }
})

test('proxy: streams response bodies (first bytes arrive before the origin finishes)', async () => {
  let finish: () => void = () => undefined
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' })
    res.write('first-chunk;')
    finish = () => res.end('last-chunk')
  })
  const f = await startTestEdge(origin.url)
  try {
    const r = await request(`${f.base}/stream`, {
      headers: { host: 'site.test' },
      dispatcher: f.agent,
    })
    const it = r.body[Symbol.asyncIterator]()
    const firstChunk = await it.next()
    assert.equal(String(firstChunk.value), 'first-chunk;')
    finish()
    let rest = ''
    for (;;) {
      const n = await it.next()
      if (n.done === true) break
      rest += String(n.value)
    }
    assert.equal(rest, 'last-chunk')
  } finally {
    await f.close()
    await origin.close()
  }
})

test('proxy: streams request bodies to the origin', async () => {
  const origin = await startOrigin((req, res) => {
    let n = 0
    const h = createHash('sha256')
    req.on('data', (c: Buffer) => {
      n += c.length
      h.update(c)
    })
    req.on('end', () => res.end(`${n}:${h.digest('hex')}`))
  })
  const f = await startTestEdge(origin.url)
  try {
    const body = randomBytes(3 * 1024 * 1024 + 17)
    const r = await request(`${f.base}/upload`, {
      method: 'POST',
      headers: { host: 'site.test', 'content-type': 'application/octet-stream' },
      body: Readable.from(chunks(body, 64 * 1024)),
      dispatcher: f.agent,
    })
    assert.equal(r.statusCode, 200)
    assert.equal(
      await r.body.text(),
      `${body.length}:${createHash('sha256').update(body).digest('hex')}`,
    )
    assert.equal(origin.seen.at(-1)?.method, 'POST')
  } finally {
    await f.close()
    await origin.close()
  }
})

function* chunks(b: Buffer, n: number): Generator<Buffer> {
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n)
}

test('proxy: unreachable origin → 502 page (HTML for browsers, JSON on request)', async () => {
  const dead = await startOrigin()
  const url = dead.url
  await dead.close() // nothing listens on this port now
  const f = await startTestEdge(url)
  try {
    const html = await f.get('/x', { accept: 'text/html' })
    assert.equal(html.status, 502)
    assert.match(String(html.headers['content-type']), /text\/html/)
    assert.match(html.text, /502 Bad gateway/)
    const json = await f.get('/x', { accept: 'application/json' })
    assert.equal(json.status, 502)
    const parsed = JSON.parse(json.text) as { error: { status: number; title: string } }
    assert.equal(parsed.error.status, 502)
    assert.equal(parsed.error.title, 'Bad gateway')
  } finally {
    await f.close()
  }
})

test('proxy: origin that does not answer in time → 504 page', async () => {
  const origin = await startOrigin(() => {
    /* never answers */
  })
  const f = await startTestEdge(origin.url, {
    timeouts: { connectMs: 1000, headersMs: 300, bodyIdleMs: 300 },
  })
  try {
    const t0 = Date.now()
    const json = await f.get('/slow', { accept: 'application/json' })
    assert.equal(json.status, 504)
    assert.equal((JSON.parse(json.text) as { error: { status: number } }).error.status, 504)
    assert.ok(Date.now() - t0 < 3000)
    const html = await f.get('/slow')
    assert.equal(html.status, 504)
    assert.match(html.text, /<h1>504 Gateway timeout<\/h1>/)
  } finally {
    await f.close()
    await origin.close()
  }
})

test('proxy: unknown Host → 421', async () => {
  const origin = await startOrigin()
  const f = await startTestEdge(origin.url)
  try {
    const r = await f.get('/', { host: 'other.test' })
    assert.equal(r.status, 421)
    assert.equal(origin.seen.length, 0)
  } finally {
    await f.close()
    await origin.close()
  }
})

test('proxy: WebSocket upgrade is tunnelled to the origin', async () => {
  const origin = await startOrigin()
  let upgradeHeaders: Record<string, unknown> = {}
  origin.server.on('upgrade', (req: { headers: Record<string, unknown> }, socket: Duplex) => {
    upgradeHeaders = req.headers
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    )
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])))
  })
  const f = await startTestEdge(origin.url)
  try {
    const i = f.edge.address.lastIndexOf(':')
    const s = connect(Number(f.edge.address.slice(i + 1)), '127.0.0.1')
    s.write(
      'GET /ws HTTP/1.1\r\nHost: site.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    )
    let got = ''
    s.setEncoding('latin1')
    await new Promise<void>((resolve) => {
      s.on('data', (d: string) => {
        got += d
        if (got.includes('\r\n\r\n') && !got.includes('echo:')) s.write('ping-frame')
        if (got.includes('echo:ping-frame')) resolve()
      })
    })
    assert.match(got, /^HTTP\/1\.1 101 Switching Protocols/)
    assert.equal(upgradeHeaders['upgrade'], 'websocket')
    assert.equal(upgradeHeaders['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==')
    assert.equal(upgradeHeaders['x-forwarded-for'], '127.0.0.1')
    s.destroy()
  } finally {
    await f.close()
    await origin.close()
  }
})

test('proxy: HTTP/2 visitors (h2 prior knowledge over the plaintext duplex)', async () => {
  const origin = await startOrigin((req, res) => {
    res.setHeader('cache-control', 'no-store')
    res.end(`h2 ok ${req.url}`)
  })
  const f = await startTestEdge(origin.url)
  try {
    const session = http2.connect(`http://${f.edge.address}`)
    const stream = session.request({ ':path': '/two', ':authority': 'site.test' })
    let status = 0
    let via = ''
    stream.on('response', (h) => {
      status = Number(h[':status'])
      via = String(h['via'])
    })
    let body = ''
    stream.setEncoding('utf8')
    stream.on('data', (d: string) => (body += d))
    await once(stream, 'end')
    session.close()
    assert.equal(status, 200)
    assert.equal(body, 'h2 ok /two')
    assert.match(via, /outpost/)
    const seen = origin.seen.at(-1)!
    assert.equal(seen.headers['host'], 'site.test')
    assert.equal(seen.headers['via'], '2 outpost')
  } finally {
    await f.close()
    await origin.close()
  }
})

test('close(): in-flight requests finish, idle keep-alive connections are closed at once', async () => {
  const origin = await startOrigin((_req, res) => {
    setTimeout(() => res.end('finished'), 300)
  })
  const f = await startTestEdge(origin.url)
  try {
    await f.get('/warm') // leaves an idle keep-alive connection
    const inflight = f.get('/slow')
    while (origin.seen.length < 2) await new Promise((r) => setTimeout(r, 5))
    const t0 = Date.now()
    await f.edge.close()
    const r = await inflight
    assert.equal(r.status, 200)
    assert.equal(r.text, 'finished')
    assert.ok(Date.now() - t0 < 2000, `close took ${Date.now() - t0} ms`)
  } finally {
    await f.close()
    await origin.close()
  }
})

test('proxy: an origin that stalls mid-body is cut off after bodyIdleMs (visitor stream reset, nothing cached)', async () => {
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '100' })
    res.write('partial')
    // ...and never the remaining 93 bytes
  })
  const f = await startTestEdge(origin.url, {
    timeouts: { connectMs: 1000, headersMs: 1000, bodyIdleMs: 300 },
  })
  try {
    const t0 = Date.now()
    await assert.rejects(f.get('/stall'))
    assert.ok(Date.now() - t0 < 3000)
    await f.edge.settle()
    assert.equal(f.edge.cache!.store.count, 0)
  } finally {
    await f.close()
    await origin.close()
  }
})
