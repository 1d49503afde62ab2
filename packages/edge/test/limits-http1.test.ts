/**
 * AP13 (attack-protection.md §7): slowloris sockets are closed within
 * headersTimeout + 1 s, a client that stops reading is dropped after the write
 * timeout (one that reads slowly is not), the per-IP connection cap holds, and
 * a good client is served meanwhile. Also: the edge refuses Node < 24.14.1.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { Socket } from 'node:net'
import { MIN_NODE_VERSION, requireNodeVersion } from '../src/proxy/edge-server.ts'
import { closed, connectFrom, rssMb, sleep, startLimited } from './limits-harness.ts'

function goodGet(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/', localAddress: '127.0.0.3', agent: false },
      (res) => {
        res.resume()
        res.on('end', () => {
          resolve(res.statusCode ?? 0)
        })
      },
    )
    req.on('error', reject)
  })
}

test('requireNodeVersion(): 24.14.1 or newer, with a message naming both versions', () => {
  assert.equal(MIN_NODE_VERSION, '24.14.1')
  for (const ok of ['24.14.1', '24.21.0', 'v24.15.0', '25.0.0', '26.1.2']) requireNodeVersion(ok)
  for (const bad of ['24.14.0', '24.13.9', '22.20.0', '20.19.5', 'x']) {
    assert.throws(
      () => {
        requireNodeVersion(bad)
      },
      new RegExp(`24\\.14\\.1 or newer.*this is Node\\.js ${bad.replace('.', '\\.')}`),
    )
  }
  requireNodeVersion() // this process (the repo pins 24.21.0)
})

test('AP13: 500 slowloris sockets are closed within headersTimeout + 1 s; a good client is served', async () => {
  const headersTimeoutMs = 1000
  const edge = await startLimited({
    http1: { headersTimeoutMs, requestTimeoutMs: 2000, checkIntervalMs: 250 },
    perIp: { maxConnections: 1000 },
  })
  const rss0 = rssMb()
  try {
    const sockets: Socket[] = []
    const done: Promise<{ ms: number }>[] = []
    for (let i = 0; i < 500; i++) {
      const s = await connectFrom(edge.port, '127.0.0.2')
      const t0 = performance.now()
      done.push(closed(s, t0))
      s.write('GET / HTTP/1.1\r\nX-Slow: ') // a valid start, then never the end of the head
      sockets.push(s)
    }
    // One more byte every 300 ms: never a complete request head.
    const drip = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write('a')
    }, 300)
    try {
      const status = await goodGet(edge.port)
      assert.equal(status, 200, 'good client served during the flood')
      const results = await Promise.all(done)
      const worst = Math.max(...results.map((r) => r.ms))
      assert.ok(
        worst <= headersTimeoutMs + 1000,
        `slowest slowloris socket held ${worst.toFixed(0)} ms`,
      )
      assert.ok(
        Math.min(...results.map((r) => r.ms)) >= headersTimeoutMs - 50,
        'not closed before the timeout',
      )
    } finally {
      clearInterval(drip)
    }
    assert.equal(await goodGet(edge.port), 200)
    assert.ok(rssMb() - rss0 < 50, `RSS grew ${(rssMb() - rss0).toFixed(1)} MB`)
  } finally {
    await edge.close()
  }
})

test('AP13: a client that stops reading is dropped after the write timeout; a slow reader is not', async () => {
  const writeTimeoutMs = 1000
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  const edge = await startLimited({ writeTimeoutMs }, (_req, r) => {
    const res = r as http.ServerResponse
    // Up to 256 MiB, respecting backpressure (what the proxy does with an origin body).
    let left = 4096
    const pump = (): void => {
      while (left > 0) {
        left--
        if (!res.write(chunk)) {
          res.once('drain', pump)
          return
        }
      }
      res.end()
    }
    pump()
  })
  try {
    // Never reads after the request (a paused socket: the kernel buffers fill, then ours).
    const stuck = await connectFrom(edge.port, '127.0.0.2')
    const t0 = performance.now()
    stuck.write('GET / HTTP/1.1\r\nHost: site.test\r\n\r\n')
    stuck.pause()
    // Reads in short bursts (20 ms in every 100 ms) for 3 s: slow but alive.
    const slow = await connectFrom(edge.port, '127.0.0.3')
    let slowBytes = 0
    let slowClosed = false
    slow.on('close', () => (slowClosed = true))
    slow.on('data', (d: Buffer) => (slowBytes += d.length))
    slow.write('GET / HTTP/1.1\r\nHost: site.test\r\n\r\n')
    slow.pause()
    const reader = setInterval(() => {
      slow.resume()
      setTimeout(() => slow.pause(), 20)
    }, 100)
    // The client cannot see the close (its FIN waits behind unread data): watch the server.
    while (!edge.hits.includes('slow_read') && performance.now() - t0 < 15_000) await sleep(20)
    const r = { ms: performance.now() - t0 }
    assert.ok(edge.hits.includes('slow_read'), `limits hit: ${edge.hits.join(',')}`)
    // Kernel buffers fill first (a few MB on loopback), then the write timeout runs.
    assert.ok(r.ms >= writeTimeoutMs, `dropped after ${r.ms.toFixed(0)} ms`)
    assert.ok(r.ms < writeTimeoutMs + 5000, `dropped after ${r.ms.toFixed(0)} ms`)
    await sleep(3000 - (performance.now() - t0))
    clearInterval(reader)
    assert.equal(slowClosed, false, 'the slow but steady reader keeps its connection')
    assert.ok(slowBytes > 1024 * 1024, `slow reader got ${slowBytes} bytes`)
    assert.equal(edge.hits.filter((h) => h === 'slow_read').length, 1)
    assert.equal(edge.server.connections, 1, 'only the slow reader is left')
    slow.destroy()
    stuck.destroy()
  } finally {
    await edge.close()
  }
})

test('per-IP connection cap: the connection over the cap is closed at once, other IPs are not affected', async () => {
  const edge = await startLimited({ perIp: { maxConnections: 5 } })
  try {
    const held: Socket[] = []
    for (let i = 0; i < 5; i++) {
      const s = await connectFrom(edge.port, '127.0.0.2')
      s.write('GET / HTTP/1.1\r\nHost: site.test\r\n')
      held.push(s)
    }
    await sleep(100)
    const extra = await connectFrom(edge.port, '127.0.0.2')
    const gone = closed(extra)
    extra.write('GET / HTTP/1.1\r\n')
    const r = await gone
    assert.equal(r.data.length, 0)
    assert.deepEqual(edge.hits, ['ip_connections'])
    assert.equal(await goodGet(edge.port), 200)
    // Closing one frees a slot for that IP.
    held[0]?.destroy()
    await sleep(100)
    const again = await connectFrom(edge.port, '127.0.0.2')
    const text = new Promise<string>((resolve) => {
      let t = ''
      again.on('data', (d: Buffer) => {
        t += d.toString('latin1')
        if (t.includes('ok')) resolve(t)
      })
    })
    again.write('GET / HTTP/1.1\r\nHost: site.test\r\n\r\n')
    assert.match(await text, /^HTTP\/1\.1 200/)
    again.destroy()
    for (const s of held) s.destroy()
  } finally {
    await edge.close()
  }
})
