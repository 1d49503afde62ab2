import assert from 'node:assert/strict'
import { test } from 'node:test'
import { duplexPair, type Duplex } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { concat, fromHex } from '@outpost/wire'
import { ErrorCode, Op } from './codec/constants.ts'
import { Deframer } from './codec/deframer.ts'
import { decodeFrame, encodeFrame, type Frame, type Operation } from './codec/frame.ts'
import {
  errorResponse,
  serveConnection,
  type OperationHandler,
  type ServeEvent,
  type ServeOptions,
} from './server.ts'
import { parseVector } from '../test/vectors.ts'

interface Harness {
  client: Duplex
  server: Duplex
  events: ServeEvent[]
  send(bytes: Uint8Array): void
  /** Resolves with the next n answers, in arrival order. */
  read(n: number): Promise<Frame[]>
  closed: Promise<void>
}

function harness(handler: OperationHandler, o: Partial<ServeOptions> = {}): Harness {
  const [client, server] = duplexPair()
  const events: ServeEvent[] = []
  serveConnection(server, handler, {
    peer: { remoteAddress: '127.0.0.1' },
    onEvent: (e) => events.push(e),
    ...o,
  })
  const deframer = new Deframer()
  const frames: Frame[] = []
  let wake: (() => void) | undefined
  client.on('data', (chunk: Uint8Array) => {
    for (const f of deframer.push(chunk)) frames.push(decodeFrame(f))
    wake?.()
  })
  const closed = new Promise<void>((resolve) => {
    client.on('close', () => {
      resolve()
    })
    client.on('end', () => {
      resolve()
    })
  })
  return {
    client,
    server,
    events,
    send: (b) => client.write(b),
    async read(n) {
      while (frames.length < n) {
        await new Promise<void>((r) => {
          wake = r
        })
      }
      return frames.splice(0, n)
    },
    closed,
  }
}

const echo: OperationHandler = (op) =>
  Promise.resolve({ opcode: Op.Response, payload: op.payload ?? new Uint8Array(0) })

test('serveConnection() answers a ping with a payload with a pong echoing it (V2 -> V5)', async () => {
  const h = harness(echo)
  h.send(
    parseVector('01 00 03 f8 00 00 00 02 | 11 00 01 f1 | 12 00 02 68 69 | 20 03 ec <1004 x 00>'),
  )
  const [f] = await h.read(1)
  assert.deepEqual(f, {
    major: 1,
    minor: 0,
    id: 2,
    op: { opcode: Op.Pong, payload: fromHex('6869') },
  })
  h.client.destroy()
})

test('serveConnection() answers a payload-less ping with a payload-less pong, never Format', async () => {
  const h = harness(echo)
  h.send(encodeFrame(1, { opcode: Op.Ping }, 'none'))
  h.send(encodeFrame(3, { opcode: Op.Ping }, 'c'))
  const got = await h.read(2)
  assert.deepEqual(
    got.map((f) => [f.id, f.op]),
    [
      [1, { opcode: Op.Pong }],
      [3, { opcode: Op.Pong }],
    ],
  )
  h.client.destroy()
})

test('serveConnection() answers response opcodes used as requests with UnexpectedOpcode', async () => {
  const h = harness(echo)
  for (const [i, opcode] of [Op.Response, Op.Pong, Op.Error].entries()) {
    h.send(encodeFrame(10 + i, { opcode, payload: fromHex('00') }))
  }
  const got = await h.read(3)
  for (const [i, f] of got.entries()) {
    assert.equal(f.id, 10 + i)
    assert.deepEqual(f.op, errorResponse(ErrorCode.UnexpectedOpcode))
  }
  h.client.destroy()
})

test('serveConnection() passes unknown opcodes to the handler', async () => {
  const seen: number[] = []
  const h = harness((op) => {
    seen.push(op.opcode)
    return Promise.resolve(errorResponse(ErrorCode.BadOpcode))
  })
  h.send(encodeFrame(4, { opcode: 0x99 }))
  const [f] = await h.read(1)
  assert.deepEqual(seen, [0x99])
  assert.deepEqual(f?.op, errorResponse(ErrorCode.BadOpcode))
  h.client.destroy()
})

test('serveConnection() writes answers as they complete, out of order', async () => {
  const h = harness(async (op) => {
    await sleep(op.payload?.[0] ?? 0)
    return { opcode: Op.Response, payload: op.payload ?? new Uint8Array(0) }
  })
  h.send(
    concat(
      ...[60, 30, 1].map((ms, i) =>
        encodeFrame(100 + i, { opcode: Op.EcdsaSignSha256, payload: Uint8Array.of(ms) }),
      ),
    ),
  )
  const got = await h.read(3)
  assert.deepEqual(
    got.map((f) => f.id),
    [102, 101, 100],
  )
  h.client.destroy()
})

test('serveConnection() answers Busy at once beyond maxInFlight', async () => {
  let release: () => void = () => undefined
  const gate = new Promise<void>((r) => {
    release = r
  })
  const h = harness(
    async () => {
      await gate
      return { opcode: Op.Response, payload: fromHex('aa') }
    },
    { maxInFlight: 2 },
  )
  for (let id = 0; id < 4; id++) h.send(encodeFrame(id, { opcode: Op.EcdsaSignSha256 }))
  const busy = await h.read(2)
  assert.deepEqual(
    busy.map((f) => [f.id, f.op.payload?.[0]]),
    [
      [2, ErrorCode.Busy],
      [3, ErrorCode.Busy],
    ],
  )
  release()
  const done = await h.read(2)
  assert.deepEqual(done.map((f) => f.op.opcode).sort(), [Op.Response, Op.Response])
  // Capacity is back once the work finished.
  h.send(encodeFrame(9, { opcode: Op.EcdsaSignSha256 }))
  assert.equal((await h.read(1))[0]?.op.opcode, Op.Response)
  assert.ok(h.events.some((e) => e.kind === 'busy'))
  h.client.destroy()
})

test('serveConnection() answers a malformed body with Format under its ID and keeps going', async () => {
  const h = harness(echo)
  // Duplicate opcode item, then a valid ping on the same connection.
  h.send(parseVector('01 00 00 08 00 00 00 2a | 11 00 01 15 | 11 00 01 15'))
  h.send(encodeFrame(43, { opcode: Op.Ping, payload: fromHex('01') }))
  const [bad, ping] = await h.read(2)
  assert.deepEqual(bad, { major: 1, minor: 0, id: 42, op: errorResponse(ErrorCode.Format) })
  assert.equal(ping?.op.opcode, Op.Pong)
  assert.ok(h.events.some((e) => e.kind === 'format-error' && /appears twice/.test(e.detail ?? '')))
  h.client.destroy()
})

test('serveConnection() closes when a header announces a body over the limit', async () => {
  const h = harness(echo, { maxBodyBytes: 2000 })
  h.send(encodeFrame(1, { opcode: Op.Ping, payload: new Uint8Array(3000) }))
  await h.closed
  assert.ok(
    h.events.some((e) => e.kind === 'frame-error' && /exceeds the limit/.test(e.detail ?? '')),
  )
})

test('serveConnection() reports a stream that ends inside a frame', async () => {
  const h = harness(echo)
  h.client.end(encodeFrame(1, { opcode: Op.Ping }).subarray(0, 100))
  await h.closed
  await sleep(10)
  assert.ok(h.events.some((e) => e.kind === 'truncated'))
})

test('serveConnection() answers a major version other than 1, with a 1.0 reply', async () => {
  const h = harness(echo)
  const f = encodeFrame(5, { opcode: Op.Ping, payload: fromHex('07') })
  f[0] = 2
  f[1] = 7
  h.send(f)
  const [got] = await h.read(1)
  assert.deepEqual(got, {
    major: 1,
    minor: 0,
    id: 5,
    op: { opcode: Op.Pong, payload: fromHex('07') },
  })
  assert.ok(h.events.some((e) => e.kind === 'version'))
  h.client.destroy()
})

test('serveConnection() answers Internal when the handler throws, and aborts its signal on close', async () => {
  let signal: AbortSignal | undefined
  const h = harness((op, _peer, s) => {
    if (op.opcode === Op.RsaDecrypt) throw new Error('boom')
    signal = s
    return new Promise<Operation>(() => undefined)
  })
  h.send(encodeFrame(1, { opcode: Op.RsaDecrypt }))
  const [f] = await h.read(1)
  assert.deepEqual(f?.op, errorResponse(ErrorCode.Internal))
  h.send(encodeFrame(2, { opcode: Op.RsaSignSha256 }))
  await sleep(20)
  assert.ok(signal !== undefined)
  const seen: AbortSignal = signal
  assert.equal(seen.aborted, false)
  h.server.destroy()
  await sleep(20)
  assert.equal(seen.aborted, true)
})

test('serveConnection() closes an idle connection', async () => {
  const h = harness(echo, { idleTimeoutMs: 100 })
  const t0 = Date.now()
  h.send(encodeFrame(1, { opcode: Op.Ping }))
  await h.read(1)
  await h.closed
  assert.ok(Date.now() - t0 >= 90)
  assert.ok(h.events.some((e) => e.kind === 'idle-timeout'))
})

test('serveConnection() stops reading while its answers are not being read', async () => {
  let calls = 0
  const [client, server] = duplexPair({ highWaterMark: 16 * 1024 })
  const events: ServeEvent[] = []
  serveConnection(
    server,
    () => {
      calls++
      return Promise.resolve({ opcode: Op.Response, payload: new Uint8Array(4000) })
    },
    { peer: { remoteAddress: 'x' }, highWaterMarkBytes: 32 * 1024, onEvent: (e) => events.push(e) },
  )
  // The client writes 400 requests, 10 at a time, and reads nothing.
  const req = encodeFrame(1, { opcode: Op.RsaSignSha256 })
  for (let i = 0; i < 40; i++) {
    client.write(concat(...Array.from({ length: 10 }, () => req)))
    await sleep(2)
  }
  await sleep(50)
  const stalled = calls
  assert.ok(stalled < 400, `server handled ${stalled} requests without its answers being read`)
  assert.ok(events.some((e) => e.kind === 'paused'))
  // Reading drains the answers and the server resumes.
  let answers = 0
  const d = new Deframer()
  client.on('data', (c: Uint8Array) => {
    answers += d.push(c).length
  })
  while (answers < 400) await sleep(10)
  assert.equal(calls, 400)
  assert.ok(events.some((e) => e.kind === 'resumed'))
  client.destroy()
})

test('serveConnection() answers Internal when the handler returns an answer that cannot be encoded', async () => {
  const h = harness(() => Promise.resolve({ opcode: Op.Response, payload: new Uint8Array(70_000) }))
  h.send(encodeFrame(6, { opcode: Op.EcdsaSignSha256 }))
  const [f] = await h.read(1)
  assert.deepEqual(f, { major: 1, minor: 0, id: 6, op: errorResponse(ErrorCode.Internal) })
  assert.ok(
    h.events.some((e) => e.kind === 'handler-error' && /exceeds 65535/.test(e.detail ?? '')),
  )
  h.client.destroy()
})

test('serveConnection() does not close an idle-timed connection while work is in flight', async () => {
  const h = harness(
    async () => {
      await sleep(250)
      return { opcode: Op.Response, payload: fromHex('01') }
    },
    { idleTimeoutMs: 80 },
  )
  h.send(encodeFrame(1, { opcode: Op.EcdsaSignSha256 }))
  const [f] = await h.read(1)
  assert.equal(f?.op.opcode, Op.Response)
  await h.closed
  assert.ok(h.events.some((e) => e.kind === 'idle-timeout'))
})

test('serveConnection() writes the answers to the reads of one turn in one write, for synchronous handlers', async () => {
  const [client, server] = duplexPair()
  let calls = 0
  serveConnection(
    server,
    (op) => {
      calls++
      return { opcode: Op.Response, payload: op.payload ?? new Uint8Array(0) }
    },
    { peer: { remoteAddress: '127.0.0.1' } },
  )
  const chunks: Uint8Array[] = []
  client.on('data', (c: Uint8Array) => chunks.push(c))
  // Three writes arrive as three 'data' events (as the records of one TLS
  // read do) before the event loop turns: one write answers all of them.
  for (let w = 0; w < 3; w++) {
    client.write(
      concat(
        ...Array.from({ length: 4 }, (_, j) =>
          encodeFrame(w * 4 + j, { opcode: Op.EcdsaSignSha256, payload: Uint8Array.of(w * 4 + j) }),
        ),
      ),
    )
  }
  await sleep(20)
  assert.equal(calls, 12)
  assert.equal(chunks.length, 1, 'twelve answers to three reads, one write')
  const frames = new Deframer().push(chunks[0]!).map((b) => decodeFrame(b))
  assert.deepEqual(
    frames.map((f) => [f.id, f.op.payload?.[0]]),
    Array.from({ length: 12 }, (_, i) => [i, i]),
  )
  client.destroy()
})

test('serveConnection() answers of any size in one turn leave intact, in one write', async () => {
  const [client, server] = duplexPair()
  // Sizes around and far above the per-turn buffer's first size (4 KiB).
  const sizes = [1, 5000, 3, 40_000, 1000, 0, 65_000, 2]
  serveConnection(
    server,
    (op) => ({
      opcode: Op.Response,
      payload: new Uint8Array(sizes[op.payload![0]!]!).fill(op.payload![0]!),
    }),
    { peer: { remoteAddress: '127.0.0.1' } },
  )
  const chunks: Uint8Array[] = []
  client.on('data', (c: Uint8Array) => chunks.push(c))
  client.write(
    concat(
      ...sizes.map((_, i) =>
        encodeFrame(i, { opcode: Op.EcdsaSignSha256, payload: Uint8Array.of(i) }),
      ),
    ),
  )
  await sleep(20)
  assert.equal(chunks.length, 1)
  const frames = new Deframer().push(chunks[0]!).map((b) => decodeFrame(b))
  assert.deepEqual(
    frames.map((f) => [f.id, f.op.payload?.length, f.op.payload?.every((x) => x === f.id)]),
    sizes.map((n, i) => [i, n, true]),
  )
  client.destroy()
})

test('serveConnection() writes each connection its own answers when several answer in one turn', async () => {
  const pairs = [duplexPair(), duplexPair(), duplexPair()]
  const chunks = pairs.map(() => [] as Uint8Array[])
  pairs.forEach(([client, server], k) => {
    serveConnection(
      server,
      (op) => ({ opcode: Op.Response, payload: Uint8Array.of(k, op.payload?.[0] ?? 0) }),
      { peer: { remoteAddress: '127.0.0.1' } },
    )
    client.on('data', (c: Uint8Array) => chunks[k]!.push(c))
  })
  // All three receive their requests before the event loop turns.
  pairs.forEach(([client], k) => {
    client.write(
      concat(
        ...Array.from({ length: k + 2 }, (_, i) =>
          encodeFrame(i, { opcode: Op.EcdsaSignSha256, payload: Uint8Array.of(i) }),
        ),
      ),
    )
  })
  await sleep(20)
  chunks.forEach((c, k) => {
    assert.equal(c.length, 1, `connection ${k}: one write`)
    const frames = new Deframer().push(c[0]!).map((b) => decodeFrame(b))
    assert.deepEqual(
      frames.map((f) => [f.id, ...(f.op.payload ?? [])]),
      Array.from({ length: k + 2 }, (_, i) => [i, k, i]),
    )
  })
  pairs.forEach(([client]) => client.destroy())
})

test('serveConnection() writes answers that settle in the same turn together', async () => {
  const [client, server] = duplexPair()
  const gates: (() => void)[] = []
  serveConnection(
    server,
    () =>
      new Promise<Operation>((resolve) => {
        gates.push(() => {
          resolve({ opcode: Op.Response, payload: Uint8Array.of(1) })
        })
      }),
    { peer: { remoteAddress: '127.0.0.1' } },
  )
  const chunks: Uint8Array[] = []
  client.on('data', (c: Uint8Array) => chunks.push(c))
  for (let i = 0; i < 5; i++) client.write(encodeFrame(i, { opcode: Op.EcdsaSignSha256 }))
  while (gates.length < 5) await sleep(5)
  gates.splice(0, 3).forEach((g) => {
    g()
  })
  await sleep(10)
  assert.equal(chunks.length, 1)
  assert.equal(new Deframer().push(chunks[0]!).length, 3)
  gates.splice(0).forEach((g) => {
    g()
  })
  await sleep(10)
  assert.equal(chunks.length, 2)
  assert.equal(new Deframer().push(chunks[1]!).length, 2)
  client.destroy()
})

test('serveConnection() answers Internal when a synchronous handler throws', async () => {
  const h = harness(() => {
    throw new Error('boom')
  })
  h.send(encodeFrame(9, { opcode: Op.EcdsaSignSha256 }))
  const [f] = await h.read(1)
  assert.deepEqual(f, { major: 1, minor: 0, id: 9, op: errorResponse(ErrorCode.Internal) })
  assert.ok(h.events.some((e) => e.kind === 'handler-error' && /boom/.test(e.detail ?? '')))
  h.client.destroy()
})
