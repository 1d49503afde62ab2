/**
 * RFC 9111 behaviour end to end: a controllable origin, the edge with its
 * encrypted disk cache, and a fake clock shared by both (the origin's Date
 * header comes from the same clock, so ages are exact).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type http from 'node:http'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FakeClock, startOrigin, startTestEdge, type EdgeFixture, type Origin } from './harness.ts'

interface Ctx {
  clock: FakeClock
  origin: Origin
  edge: EdgeFixture
  /** Requests the origin has seen so far. */
  hits(): number
}

async function setup(
  handler: (clock: FakeClock, req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<Ctx> {
  const clock = new FakeClock()
  const origin = await startOrigin((req, res) => {
    res.setHeader('date', clock.date())
    handler(clock, req, res)
  })
  const edge = await startTestEdge(origin.url, {}, { now: clock.now })
  return { clock, origin, edge, hits: () => origin.seen.length }
}

async function teardown(c: Ctx): Promise<void> {
  await c.edge.close()
  await c.origin.close()
}

function cached(
  t: string,
  fn: (c: Ctx) => Promise<void>,
  handler: Parameters<typeof setup>[0],
): void {
  test(t, async () => {
    const c = await setup(handler)
    try {
      await fn(c)
    } finally {
      await teardown(c)
    }
  })
}

let version = 0

cached(
  'cache: a fresh response is served from the cache with an Age header',
  async (c) => {
    const a = await c.edge.get('/page')
    assert.equal(a.headers['x-cache'], 'MISS')
    c.clock.advance(30)
    const b = await c.edge.get('/page')
    assert.equal(b.headers['x-cache'], 'HIT')
    assert.equal(b.headers['age'], '30')
    assert.equal(b.text, a.text)
    assert.equal(c.hits(), 1)
    c.clock.advance(71)
    const d = await c.edge.get('/page')
    assert.notEqual(d.headers['x-cache'], 'HIT')
    assert.equal(c.hits(), 2)
  },
  (_c, req, res) => {
    res.setHeader('cache-control', 'max-age=100')
    res.end(`body ${req.url} ${++version}`)
  },
)

cached(
  'cache: Vary selects the variant by the request header (secondary key)',
  async (c) => {
    const en = await c.edge.get('/v', { 'accept-language': 'en' })
    const fr = await c.edge.get('/v', { 'accept-language': 'fr' })
    assert.equal(en.text, 'lang=en')
    assert.equal(fr.text, 'lang=fr')
    assert.equal(c.hits(), 2)
    const en2 = await c.edge.get('/v', { 'accept-language': 'en' })
    const fr2 = await c.edge.get('/v', { 'accept-language': 'fr' })
    assert.equal(en2.text, 'lang=en')
    assert.equal(fr2.text, 'lang=fr')
    assert.equal(en2.headers['x-cache'], 'HIT')
    assert.equal(fr2.headers['x-cache'], 'HIT')
    assert.equal(c.hits(), 2)
  },
  (_c, req, res) => {
    res.setHeader('cache-control', 'max-age=100')
    res.setHeader('vary', 'Accept-Language')
    res.end(`lang=${req.headers['accept-language'] ?? ''}`)
  },
)

cached(
  'cache: stale entries are revalidated with If-None-Match; a 304 updates the stored headers',
  async (c) => {
    await c.edge.get('/e')
    c.clock.advance(20)
    const r = await c.edge.get('/e')
    assert.equal(r.headers['x-cache'], 'REVALIDATED')
    assert.equal(r.text, 'etag body')
    assert.equal(r.headers['x-gen'], '2')
    assert.equal(c.origin.seen[1]?.headers['if-none-match'], '"v1"')
    c.clock.advance(30)
    const h = await c.edge.get('/e')
    assert.equal(h.headers['x-cache'], 'HIT') // the 304's max-age=50 now applies
    assert.equal(h.headers['x-gen'], '2')
    assert.equal(c.hits(), 2)
  },
  (_c, req, res) => {
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=50', 'x-gen': '2' })
      res.end()
      return
    }
    res.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=10', 'x-gen': '1' })
    res.end('etag body')
  },
)

cached(
  'cache: revalidation with If-Modified-Since; a changed resource replaces the entry',
  async (c) => {
    const a = await c.edge.get('/lm')
    assert.equal(a.text, 'old')
    c.clock.advance(20)
    const b = await c.edge.get('/lm')
    assert.equal(
      c.origin.seen[1]?.headers['if-modified-since'],
      new Date(Date.parse('2025-12-01T00:00:00Z')).toUTCString(),
    )
    assert.equal(b.headers['x-cache'], 'EXPIRED')
    assert.equal(b.text, 'new')
    const d = await c.edge.get('/lm')
    assert.equal(d.headers['x-cache'], 'HIT')
    assert.equal(d.text, 'new')
  },
  (_c, _req, res) => {
    res.writeHead(200, {
      'last-modified': new Date(Date.parse('2025-12-01T00:00:00Z')).toUTCString(),
      'cache-control': 'max-age=10',
    })
    res.end(++version % 2 === 1 ? 'old' : 'new')
    if (version % 2 === 1) return
  },
)

cached(
  'cache: stale-while-revalidate serves stale at once and refreshes in the background, once',
  async (c) => {
    await c.edge.get('/swr')
    c.clock.advance(20)
    const [s1, s2] = await Promise.all([c.edge.get('/swr'), c.edge.get('/swr')])
    assert.equal(s1.headers['x-cache'], 'STALE')
    assert.equal(s2.headers['x-cache'], 'STALE')
    assert.equal(s1.text, 'swr 1')
    await c.edge.edge.settle()
    assert.equal(c.hits(), 2) // one background refresh for two stale hits
    const h = await c.edge.get('/swr')
    assert.equal(h.headers['x-cache'], 'HIT')
    assert.equal(h.text, 'swr 2')
  },
  (() => {
    let n = 0
    return (_c: FakeClock, _req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'cache-control': 'max-age=10, stale-while-revalidate=60' })
      res.end(`swr ${++n}`)
    }
  })(),
)

cached(
  'cache: stale-if-error serves stale on a 5xx and on an unreachable origin, within its window',
  async (c) => {
    await c.edge.get('/sie')
    c.clock.advance(20)
    mode = 'fail'
    const a = await c.edge.get('/sie')
    assert.equal(a.headers['x-cache'], 'STALE')
    assert.equal(a.status, 200)
    assert.equal(a.text, 'good')
    c.clock.advance(100)
    const b = await c.edge.get('/sie')
    assert.equal(b.status, 503)
    // Origin gone entirely.
    mode = 'ok'
    await c.edge.get('/sie2')
    c.clock.advance(20)
    await c.origin.close()
    const d = await c.edge.get('/sie2')
    assert.equal(d.status, 200)
    assert.equal(d.headers['x-cache'], 'STALE')
  },
  (_c, _req, res) => {
    if (mode === 'fail') {
      res.writeHead(503, { 'cache-control': 'no-store' })
      res.end('down')
      return
    }
    res.writeHead(200, { 'cache-control': 'max-age=10, stale-if-error=60' })
    res.end('good')
  },
)
let mode: 'ok' | 'fail' = 'ok'

cached(
  'cache: must-revalidate forbids serving stale when the origin is unreachable (502)',
  async (c) => {
    await c.edge.get('/mr')
    c.clock.advance(20)
    await c.origin.close()
    const r = await c.edge.get('/mr')
    assert.equal(r.status, 502)
  },
  (_c, _req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=10, must-revalidate, stale-if-error=600' })
    res.end('x')
  },
)

cached(
  'cache: no-store, private, Set-Cookie and Authorization responses are not stored',
  async (c) => {
    for (const p of ['/no-store', '/private', '/cookie']) {
      await c.edge.get(p)
      const again = await c.edge.get(p)
      assert.equal(again.headers['x-cache'], 'MISS', p)
    }
    await c.edge.get('/auth', { authorization: 'Bearer a' })
    const again = await c.edge.get('/auth', { authorization: 'Bearer a' })
    assert.equal(again.headers['x-cache'], 'MISS')
    await c.edge.get('/auth-public', { authorization: 'Bearer a' })
    const pub = await c.edge.get('/auth-public', { authorization: 'Bearer a' })
    assert.equal(pub.headers['x-cache'], 'HIT')
    assert.equal(c.hits(), 9)
  },
  (_c, req, res) => {
    const cc: Record<string, string> = {
      '/no-store': 'no-store, max-age=100',
      '/private': 'private, max-age=100',
      '/cookie': 'max-age=100',
      '/auth': 'max-age=100',
      '/auth-public': 'public, max-age=100',
    }
    if (req.url === '/cookie') res.setHeader('set-cookie', 'session=abc')
    res.writeHead(200, { 'cache-control': cc[req.url ?? ''] ?? 'no-store' })
    res.end('x')
  },
)

cached(
  'cache: request no-cache and max-age=0 force revalidation; only-if-cached gives 504 on a miss',
  async (c) => {
    await c.edge.get('/rq')
    const nc = await c.edge.get('/rq', { 'cache-control': 'no-cache' })
    assert.equal(nc.headers['x-cache'], 'REVALIDATED')
    assert.equal(c.origin.seen.at(-1)?.headers['if-none-match'], '"q"')
    // RFC 9111 §5.2.1.1: max-age=0 accepts age 0 only, so one second later it revalidates.
    c.clock.advance(1)
    const ma = await c.edge.get('/rq', { 'cache-control': 'max-age=0' })
    assert.equal(ma.headers['x-cache'], 'REVALIDATED')
    const oic = await c.edge.get('/rq', { 'cache-control': 'only-if-cached' })
    assert.equal(oic.headers['x-cache'], 'HIT')
    const miss = await c.edge.get('/nothing', { 'cache-control': 'only-if-cached' })
    assert.equal(miss.status, 504)
    assert.equal(c.hits(), 3)
  },
  (_c, req, res) => {
    if (req.headers['if-none-match'] === '"q"') {
      res.writeHead(304, { etag: '"q"' })
      res.end()
      return
    }
    res.writeHead(200, { etag: '"q"', 'cache-control': 'max-age=100' })
    res.end('q')
  },
)

cached(
  'cache: heuristic freshness is 10% of the time since Last-Modified',
  async (c) => {
    await c.edge.get('/h')
    c.clock.advance(90)
    assert.equal((await c.edge.get('/h')).headers['x-cache'], 'HIT')
    c.clock.advance(20)
    assert.notEqual((await c.edge.get('/h')).headers['x-cache'], 'HIT')
  },
  (_c, _req, res) => {
    // Modified 1000 s before the first response: fresh for 100 s.
    res.writeHead(200, {
      'last-modified': new Date(Date.parse('2026-01-01T00:00:00Z') - 1_000_000).toUTCString(),
    })
    res.end('h')
  },
)

cached(
  'cache: unsafe methods invalidate the URI; HEAD is answered from the stored GET; Cache-Tag is hidden',
  async (c) => {
    const g = await c.edge.get('/u')
    assert.equal(g.headers['cache-tag'], undefined)
    const head = await c.edge.get('/u', {}, 'HEAD')
    assert.equal(head.headers['x-cache'], 'HIT')
    assert.equal(head.headers['content-length'], '5')
    assert.equal(head.text, '')
    await c.edge.get('/u', { 'content-type': 'text/plain' }, 'POST')
    const after = await c.edge.get('/u')
    assert.equal(after.headers['x-cache'], 'MISS')
  },
  (_c, _req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=100', 'cache-tag': 'product-7' })
    res.end('hello')
  },
)

cached(
  'cache: the visitor own validators get a 304 from a stored entry',
  async (c) => {
    await c.edge.get('/cond')
    const r = await c.edge.get('/cond', { 'if-none-match': 'W/"c1"' })
    assert.equal(r.status, 304)
    assert.equal(r.headers['x-cache'], 'HIT')
    assert.equal(c.hits(), 1)
  },
  (_c, _req, res) => {
    res.writeHead(200, { etag: '"c1"', 'cache-control': 'max-age=100' })
    res.end('c')
  },
)

cached(
  'cache: on disk every entry is sealed: no body or URL bytes in the cache directory',
  async (c) => {
    const r = await c.edge.get('/secret-path-marker/doc')
    assert.equal(r.text, 'PLAINTEXT-BODY-MARKER-0123')
    assert.equal((await c.edge.get('/secret-path-marker/doc')).headers['x-cache'], 'HIT')
    const dir = join(c.edge.dir, 'cache')
    const names = readdirSync(dir)
    assert.equal(names.length, 1)
    const all = Buffer.concat(
      names.map((n) => Buffer.concat([Buffer.from(n), readFileSync(join(dir, n))])),
    )
    for (const needle of ['PLAINTEXT-BODY-MARKER', 'secret-path-marker', 'site.test', 'max-age']) {
      assert.equal(all.indexOf(needle), -1, needle)
    }
  },
  (_c, _req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=100' })
    res.end('PLAINTEXT-BODY-MARKER-0123')
  },
)

cached(
  'cache: wipe() empties the directory, forgets every entry and keeps proxying uncached; a new edge on the same directory starts empty',
  async (c) => {
    await c.edge.get('/w')
    assert.equal((await c.edge.get('/w')).headers['x-cache'], 'HIT')
    const dir = join(c.edge.dir, 'cache')
    assert.equal(readdirSync(dir).length, 1)
    await c.edge.edge.wipe()
    assert.deepEqual(readdirSync(dir), [])
    const after = await c.edge.get('/w')
    assert.equal(after.status, 200)
    assert.equal(after.text, 'w')
    await c.edge.edge.settle()
    assert.deepEqual(readdirSync(dir), [])
  },
  (_c, _req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=100' })
    res.end('w')
  },
)

test('cache: a restarted edge (new key) treats the old directory as empty and deletes it', async () => {
  const origin = await startOrigin((_req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=100' })
    res.end('r')
  })
  const first = await startTestEdge(origin.url)
  const cacheDir = join(first.dir, 'cache')
  try {
    await first.get('/r')
    await first.edge.settle()
    const before = readdirSync(cacheDir)
    assert.equal(before.length, 1)
    // Simulate a crash: the old process never wiped; its file stays behind.
    const second = await startTestEdge(origin.url, { cache: { dir: cacheDir, maxBytes: 1 << 20 } })
    try {
      assert.deepEqual(readdirSync(cacheDir), [])
      assert.equal((await second.get('/r')).headers['x-cache'], 'MISS')
      assert.equal(origin.seen.length, 2)
    } finally {
      await second.close()
    }
  } finally {
    await first.close()
    await origin.close()
  }
})
