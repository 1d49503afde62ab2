/**
 * KeylessClient and serveConnection() together over real mutual TLS on
 * loopback: multiplexing, deadlines, ID wrap, reconnect, failover, fast failure,
 * Busy, and the health pings.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  ErrorCode,
  KeylessClient,
  KeylessConnectionError,
  KeylessRemoteError,
  KeylessTimeoutError,
  KeylessUnavailableError,
  Op,
  type KeylessClientOptions,
} from '../src/index.ts'
import {
  clientCredentials,
  freePort,
  makePki,
  signingHandler,
  startServer,
  type TestPki,
} from './harness.ts'

let pki: TestPki
before(async () => {
  pki = await makePki()
})

function client(ports: number[], o: Partial<KeylessClientOptions> = {}): KeylessClient {
  return new KeylessClient({
    servers: ports.map((port) => ({ host: '127.0.0.1', port })),
    ...clientCredentials(pki),
    reconnectBaseMs: 50,
    reconnectMaxMs: 400,
    ...o,
  })
}

/** The test handler's delay hook: waits tens × 10 ms, echoes the byte. */
const delayed = (tens: number) => ({ opcode: Op.RsaSignSha256, payload: Uint8Array.of(tens) })

async function eventually(
  what: string,
  f: () => Promise<boolean> | boolean,
  ms = 3000,
): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await f()) return
    await sleep(20)
  }
  assert.fail(`timed out waiting for: ${what}`)
}

test('KeylessClient.ping() round-trips over mTLS 1.3 and the server sees the node identity', async () => {
  const s = await startServer(pki)
  const c = client([s.port])
  try {
    const ms = await c.ping()
    assert.ok(ms >= 0 && ms < 2000)
    assert.deepEqual(s.protocols, ['TLSv1.3'])
    assert.deepEqual(s.peers, [{ nodeId: 'edge-1', region: 'eu-west', country: 'DE' }])
    // The ping carried a non-empty payload.
    const first = s.requests[0]
    assert.ok(first !== undefined)
    assert.equal(first.opcode, Op.Ping)
    assert.ok(first.payloadLength > 0)
  } finally {
    await c.close()
    await s.close()
  }
})

test("KeylessClient with tlsMaxVersion 'TLSv1.2' negotiates TLS 1.2", async () => {
  const s = await startServer(pki)
  const c = client([s.port], { tlsMaxVersion: 'TLSv1.2' })
  try {
    await c.ping()
    assert.deepEqual(s.protocols, ['TLSv1.2'])
    assert.deepEqual(s.ciphers, ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'])
  } finally {
    await c.close()
    await s.close()
  }
})

test('KeylessClient refuses a key server whose certificate it does not trust', async () => {
  const s = await startServer(pki)
  const c = client([s.port], { ca: pki.otherCa.certPem })
  try {
    await assert.rejects(c.ping(), KeylessConnectionError)
  } finally {
    await c.close()
    await s.close()
  }
})

test('KeylessClient verifies the server certificate against servername', async () => {
  const s = await startServer(pki)
  const wrong = new KeylessClient({
    servers: [{ host: '127.0.0.1', port: s.port, servername: 'not-the-keyserver.example' }],
    ...clientCredentials(pki),
  })
  try {
    await assert.rejects(wrong.ping(), (e: Error) => {
      assert.ok(e instanceof KeylessConnectionError)
      assert.match(e.message, /not-the-keyserver\.example/)
      return true
    })
  } finally {
    await wrong.close()
    await s.close()
  }
})

test('KeylessClient verifies an IP servername against the IP SAN and sends no SNI', async () => {
  const s = await startServer(pki)
  const warnings: string[] = []
  const onWarning = (w: Error): void => {
    warnings.push(w.message)
  }
  process.on('warning', onWarning)
  const byIp = new KeylessClient({
    servers: [{ host: '127.0.0.1', port: s.port, servername: '127.0.0.1' }],
    ...clientCredentials(pki),
  })
  const wrongIp = new KeylessClient({
    servers: [{ host: '127.0.0.1', port: s.port, servername: '127.0.0.2' }],
    ...clientCredentials(pki),
  })
  try {
    assert.equal(typeof (await byIp.ping()), 'number')
    await assert.rejects(wrongIp.ping(), (e: Error) => {
      assert.ok(e instanceof KeylessConnectionError)
      assert.match(e.message, /127\.0\.0\.2/)
      return true
    })
    await new Promise((r) => setImmediate(r))
    assert.deepEqual(
      warnings.filter((w) => w.includes('RFC 6066')),
      [],
    )
  } finally {
    process.off('warning', onWarning)
    await byIp.close()
    await wrongIp.close()
    await s.close()
  }
})

test('KeylessClient opens more connections per server under load when asked to', async () => {
  const s = await startServer(pki)
  const c = client([s.port], { connectionsPerServer: 3 })
  try {
    await c.ping()
    assert.equal(c.status()[0]?.connections, 1)
    for (let round = 0; round < 20 && (c.status()[0]?.connections ?? 0) < 3; round++) {
      await Promise.all(Array.from({ length: 6 }, () => c.execute(delayed(3))))
    }
    assert.equal(c.status()[0]?.connections, 3)
    // More load never opens more than the limit.
    await Promise.all(Array.from({ length: 30 }, () => c.execute(delayed(3))))
    assert.equal(c.status()[0]?.connections, 3)
    assert.equal(s.peers.length, 3)
  } finally {
    await c.close()
    await s.close()
  }
})

test('KeylessClient retries an operation whose connection was lost on another server', async () => {
  const b = await startServer(pki)
  let dropA = (): void => undefined
  const a = await startServer(pki, {
    handler: async (op, peer, signal) => {
      if (op.opcode === Op.RsaSignSha256) {
        dropA() // the key server dies with this request in flight
        return new Promise(() => undefined)
      }
      return signingHandler([])(op, peer, signal)
    },
  })
  dropA = () => {
    a.dropConnections()
  }
  const events: string[] = []
  const c = client([a.port, b.port], { onEvent: (e) => events.push(`${e.kind} ${e.server}`) })
  try {
    await c.ping()
    await eventually('both up', () => c.status().every((x) => x.state === 'up'))
    // Round-robin: ping went to A, so send until an op lands on A and is retried on B.
    for (let i = 0; i < 2; i++) {
      const answer = await c.execute(delayed(1))
      assert.equal(answer.opcode, Op.Response)
    }
    assert.ok(events.includes(`retry 127.0.0.1:${a.port}`), events.join(', '))
    assert.ok(b.requests.some((r) => r.opcode === Op.RsaSignSha256))
  } finally {
    await c.close()
    await a.close()
    await b.close()
  }
})

test('KeylessClient.execute() matches pipelined answers that arrive out of order', async () => {
  const s = await startServer(pki, { handler: signingHandler([]) })
  const c = client([s.port])
  try {
    await c.ping()
    const order: number[] = []
    const results = await Promise.all(
      [15, 8, 0].map(async (tens) => {
        const answer = await c.execute(delayed(tens))
        order.push(tens)
        return answer.payload?.[0]
      }),
    )
    assert.deepEqual(results, [15, 8, 0])
    assert.deepEqual(order, [0, 8, 15])
    // One connection carried all three, with consecutive IDs.
    assert.deepEqual(
      s.requests.map((r) => r.id),
      [0, 1, 2, 3],
    )
  } finally {
    await c.close()
    await s.close()
  }
})

test('KeylessClient.execute() rejects at its deadline and on abort', async () => {
  const s = await startServer(pki)
  const c = client([s.port])
  try {
    await c.ping()
    const t0 = performance.now()
    await assert.rejects(c.execute(delayed(50), { timeoutMs: 150 }), KeylessTimeoutError)
    const took = performance.now() - t0
    assert.ok(took >= 140 && took < 400, `took ${took} ms`)
    // The timed-out server was marked down, and comes back by itself.
    await eventually('reconnect', () => c.status()[0]?.state === 'up')
    const ac = new AbortController()
    setTimeout(() => {
      ac.abort()
    }, 50)
    await assert.rejects(c.execute(delayed(50), { signal: ac.signal }), { name: 'AbortError' })
  } finally {
    await c.close()
    await s.close()
  }
})

test('KeylessClient request IDs wrap at 2^32', async () => {
  const s = await startServer(pki)
  const c = client([s.port], { firstRequestId: 0xfffffffe })
  try {
    for (let i = 0; i < 4; i++) assert.equal((await c.execute(delayed(0))).opcode, Op.Response)
    assert.deepEqual(
      s.requests.map((r) => r.id),
      [0xfffffffe, 0xffffffff, 0, 1],
    )
  } finally {
    await c.close()
    await s.close()
  }
})

test('KeylessClient reconnects after the key server restarts', async () => {
  let s = await startServer(pki)
  const port = s.port
  const c = client([port])
  try {
    await c.ping()
    await s.close()
    await eventually('connection noticed closed', () => c.status()[0]?.state !== 'up')
    await assert.rejects(
      c.ping(),
      (e: Error) => e instanceof KeylessConnectionError || e instanceof KeylessUnavailableError,
    )
    s = await startServer(pki, { port })
    await eventually('key server back', async () => {
      try {
        await c.ping()
        return true
      } catch {
        return false
      }
    })
    assert.equal(c.status()[0]?.state, 'up')
  } finally {
    await c.close()
    await s.close()
  }
})

test('KeylessClient fails over when one of two key servers is down: new ops succeed within 1 s', async () => {
  const a = await startServer(pki)
  const b = await startServer(pki)
  const c = client([a.port, b.port])
  try {
    await c.ping()
    await eventually('both up', () => c.status().every((x) => x.state === 'up'))
    await a.close()
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now()
      assert.equal((await c.execute(delayed(0))).opcode, Op.Response)
      const took = performance.now() - t0
      assert.ok(took < 1000, `op ${i} took ${took} ms`)
    }
    assert.equal(c.status()[1]?.state, 'up')
    assert.notEqual(c.status()[0]?.state, 'up')
  } finally {
    await c.close()
    await a.close()
    await b.close()
  }
})

test('KeylessClient fails over from a key server that accepts TCP but never answers', async () => {
  const sockets: net.Socket[] = []
  const blackhole = net.createServer((s) => sockets.push(s)).listen(0, '127.0.0.1')
  await once(blackhole, 'listening')
  const b = await startServer(pki)
  const c = client([(blackhole.address() as net.AddressInfo).port, b.port], {
    connectTimeoutMs: 200,
  })
  try {
    const t0 = performance.now()
    await c.ping()
    await c.ping()
    assert.ok(performance.now() - t0 < 1000)
    assert.deepEqual(
      c.status().map((x) => x.state),
      ['down', 'up'],
    )
  } finally {
    await c.close()
    await b.close()
    for (const s of sockets) s.destroy()
    blackhole.close()
  }
})

test('KeylessClient rejects fast when every key server is down, and recovers', async () => {
  const ports = [await freePort(), await freePort()]
  const c = client(ports, { operationTimeoutMs: 10_000, reconnectBaseMs: 100 })
  let s: Awaited<ReturnType<typeof startServer>> | undefined
  try {
    let t0 = performance.now()
    await assert.rejects(c.ping(), KeylessConnectionError)
    assert.ok(performance.now() - t0 < 1000)
    t0 = performance.now()
    await assert.rejects(c.ping(), (e: Error) => {
      assert.ok(e instanceof KeylessUnavailableError)
      assert.equal(e.code, 'ERR_KEYLESS_UNAVAILABLE')
      assert.match(e.message, /all 2 key servers are down/)
      return true
    })
    assert.ok(performance.now() - t0 < 50, `took ${performance.now() - t0} ms`)
    s = await startServer(pki, { port: ports[1] ?? 0 })
    await eventually('recovery', async () => {
      try {
        await c.ping()
        return true
      } catch {
        return false
      }
    })
  } finally {
    await c.close()
    await s?.close()
  }
})

test('KeylessClient surfaces Busy from a key server at its in-flight bound, without retrying', async () => {
  const s = await startServer(pki, { maxInFlight: 2 })
  const c = client([s.port])
  try {
    await c.ping()
    const slow = [c.execute(delayed(20)), c.execute(delayed(20))]
    await assert.rejects(c.execute(delayed(0)), (e: Error) => {
      assert.ok(e instanceof KeylessRemoteError)
      assert.equal(e.remoteCode, ErrorCode.Busy)
      assert.match(e.message, /Busy \(0x84\)/)
      return true
    })
    await Promise.all(slow)
    assert.equal(s.requests.filter((r) => r.opcode === Op.RsaSignSha256).length, 3)
  } finally {
    await c.close()
    await s.close()
  }
})

test('KeylessClient marks a server down when it stops answering health pings, and fails over', async () => {
  const a = await startServer(pki)
  const b = await startServer(pki)
  const events: string[] = []
  const c = client([a.port, b.port], {
    healthCheckIntervalMs: 100,
    operationTimeoutMs: 300,
    reconnectBaseMs: 5000,
    onEvent: (e) => events.push(e.kind + ' ' + e.server),
  })
  try {
    await c.ping()
    await eventually('both up', () => c.status().every((x) => x.state === 'up'))
    a.muteConnections()
    await eventually('A down', () => c.status()[0]?.state === 'down')
    assert.ok(events.includes(`health-failed 127.0.0.1:${a.port}`), events.join(', '))
    assert.equal(c.status()[1]?.state, 'up')
    assert.equal((await c.execute(delayed(0))).opcode, Op.Response)
  } finally {
    await c.close()
    await a.close()
    await b.close()
  }
})

test('KeylessClient keeps idle connections alive with payload-carrying pings', async () => {
  const s = await startServer(pki, { idleTimeoutMs: 300 })
  const c = client([s.port], { healthCheckIntervalMs: 100 })
  try {
    await c.ping()
    await sleep(700)
    const pings = s.requests.filter((r) => r.opcode === Op.Ping)
    assert.ok(pings.length >= 3, `${pings.length} pings`)
    assert.ok(pings.every((p) => p.payloadLength > 0))
    assert.ok(!s.events.some((e) => e.kind === 'idle-timeout'))
    assert.equal(c.status()[0]?.state, 'up')
  } finally {
    await c.close()
    await s.close()
  }
})

test('KeylessClient backs off exponentially while a key server stays down', async () => {
  const port = await freePort()
  let attempts = 0
  const c = client([port], {
    reconnectBaseMs: 20,
    reconnectMaxMs: 320,
    onEvent: (e) => {
      if (e.kind === 'down') attempts++
    },
  })
  try {
    await assert.rejects(c.ping(), KeylessConnectionError)
    await sleep(1200)
    // Fixed 20 ms retries would make ~60 attempts; 20, 40, 80, 160, 320, 320... with
    // equal jitter makes between 5 and 12.
    assert.ok(attempts >= 5 && attempts <= 12, `${attempts} attempts`)
    assert.equal(c.status()[0]?.failures, attempts)
  } finally {
    await c.close()
  }
})
