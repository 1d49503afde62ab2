import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { request } from 'undici'
import type { Signer } from '@outpost/tls'
import { startOrigin, startTestEdge } from './harness.ts'

test('metrics: the exposition contains the named series with values', async () => {
  const origin = await startOrigin((_q, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end('m')
  })
  const f = await startTestEdge(origin.url, { metrics: { listen: '127.0.0.1:0' } })
  try {
    await f.get('/a')
    await f.edge.settle()
    await f.get('/a')
    await f.get('/a')
    await f.get('/nope', { host: 'unknown.test' })
    // A signer wrapped by the edge's metrics: one success, one failure.
    const inner: Signer = {
      schemes: [0x0403],
      sign: (_s, c) =>
        c.length > 0
          ? Promise.resolve(new Uint8Array([1]))
          : Promise.reject(Object.assign(new Error('down'), { code: 'ERR_KEYLESS_UNAVAILABLE' })),
    }
    const signer = f.edge.metrics.instrument(inner)
    await signer.sign(0x0403, new Uint8Array([1]))
    await assert.rejects(signer.sign(0x0403, new Uint8Array(0)))
    f.edge.metrics.handshake('X25519MLKEM768', false)
    f.edge.metrics.handshake('x25519', true)
    const r = await request(`http://${f.edge.metricsAddress!}/metrics`)
    assert.match(String(r.headers['content-type']), /text\/plain/)
    const text = await r.body.text()
    assert.match(text, /outpost_edge_requests_total\{site="site\.test",status="200"\} 3/)
    assert.match(text, /outpost_edge_requests_total\{site="-",status="421"\} 1/)
    assert.match(text, /outpost_edge_cache_requests_total\{result="HIT"\} 2/)
    assert.match(text, /outpost_edge_cache_requests_total\{result="MISS"\} 1/)
    assert.match(text, /outpost_edge_cache_hit_ratio 0\.66/)
    assert.match(text, /outpost_edge_cache_entries 1/)
    assert.match(
      text,
      /outpost_edge_tls_handshakes_total\{group="X25519MLKEM768",resumed="false"\} 1/,
    )
    assert.match(text, /outpost_edge_tls_handshakes_total\{group="x25519",resumed="true"\} 1/)
    assert.match(text, /outpost_edge_keyless_sign_seconds_count\{result="ok"\} 1/)
    assert.match(text, /outpost_edge_keyless_errors_total\{code="ERR_KEYLESS_UNAVAILABLE"\} 1/)
  } finally {
    await f.close()
    await origin.close()
  }
})

test('access log: one JSON line per request, client IP truncated by default', async () => {
  const origin = await startOrigin((_q, res) => {
    res.writeHead(200, { 'cache-control': 'no-store' })
    res.end('12345')
  })
  const out = new PassThrough()
  let text = ''
  out.on('data', (d: Buffer) => (text += d.toString()))
  const f = await startTestEdge(origin.url, {}, { accessLogStream: out })
  try {
    await f.get('/log/me?q=1')
    await f.get('/missing', { host: 'nobody.test' })
    await new Promise((r) => setTimeout(r, 50))
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.equal(lines.length, 2)
    const [a, b] = lines
    assert.equal(a!['site'], 'site.test')
    assert.equal(a!['method'], 'GET')
    assert.equal(a!['path'], '/log/me?q=1')
    assert.equal(a!['status'], 200)
    assert.equal(a!['bytes'], 5)
    assert.equal(a!['cache'], 'MISS')
    assert.equal(a!['clientIp'], '127.0.0.0')
    assert.equal(typeof a!['durationMs'], 'number')
    assert.ok(!Number.isNaN(Date.parse(String(a!['time']))))
    assert.equal(b!['status'], 421)
  } finally {
    await f.close()
    await origin.close()
  }
})

test('access log: accessLog.rejectsPerSecond bounds the protection answers written', async () => {
  const origin = await startOrigin()
  for (const rejectsPerSecond of [0, 3]) {
    const out = new PassThrough()
    let text = ''
    out.on('data', (d: Buffer) => (text += d.toString()))
    const f = await startTestEdge(
      origin.url,
      {
        accessLog: { path: '-', rejectsPerSecond },
        sites: [
          {
            hosts: ['site.test'],
            origin: origin.url,
            cache: false,
            protection: { rules: [{ id: 'deny', action: 'block', match: { paths: ['/x*'] } }] },
          },
        ],
      },
      { accessLogStream: out },
    )
    try {
      for (let i = 0; i < 8; i++) assert.equal((await f.get(`/x${i}`)).status, 403)
      await new Promise((r) => setTimeout(r, 50))
      const logged = text.split('\n').filter((l) => l.includes('"status":403')).length
      // All eight fit in one second on any machine this runs on, or in two at worst.
      assert.ok(
        rejectsPerSecond === 0 ? logged === 0 : logged >= 3 && logged <= 6,
        `${logged} of 8 refusals logged at ${rejectsPerSecond}/s`,
      )
    } finally {
      await f.close()
    }
  }
  await origin.close()
})
