/**
 * AP14 (attack-protection.md §7): rapid reset gets GOAWAY after ≤ 100 handler
 * invocations; the per-IP new-stream limit holds across 20 reconnections; a
 * CONTINUATION flood, a SETTINGS flood and a WINDOW_UPDATE overflow (raw
 * frames over TCP, h2 prior knowledge) each close the connection; the process
 * survives, RSS stays within +50 MB, and a good client is served throughout.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import {
  Flag,
  FrameType,
  PREFACE,
  closed,
  connectFrom,
  frame,
  goawayCode,
  h2From,
  literal,
  requestBlock,
  rssMb,
  sleep,
  startLimited,
  u32,
  type Limited,
} from './limits-harness.ts'

let edge: Limited
let rss0 = 0
const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_FLOW_CONTROL_ERROR } = http2.constants

before(async () => {
  edge = await startLimited({
    http2: { maxEarlyResets: 50, maxControlFramesPerSecond: 100 },
    perIp: { newStreams: { rate: 50, burst: 100 } },
  })
  rss0 = rssMb()
})
after(async () => {
  await edge.close()
})

/** One GET over a fresh h2 session from 127.0.0.3. */
async function good(): Promise<number> {
  const session = h2From(edge.port, '127.0.0.3')
  try {
    const req = session.request({ ':path': '/', ':authority': 'site.test' })
    const [headers] = await Promise.all([
      new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        req.once('response', resolve)
        req.once('error', reject)
      }),
      new Promise((resolve) => {
        req.resume()
        req.once('end', resolve)
      }),
    ])
    return Number(headers[':status'])
  } finally {
    session.destroy()
  }
}

test('AP14: rapid reset gets GOAWAY after ≤ 100 handler invocations', async () => {
  const before = edge.calls.n
  const session = h2From(edge.port, '127.0.0.2')
  session.on('error', () => undefined)
  let goaway: number | undefined
  session.on('goaway', (code: number) => (goaway = code))
  await new Promise((r) => session.once('connect', r))
  const alive = (): boolean => !session.destroyed
  let sent = 0
  const t0 = performance.now()
  while (sent < 5000 && goaway === undefined && alive() && performance.now() - t0 < 10_000) {
    for (let i = 0; i < 20 && alive(); i++) {
      try {
        const req = session.request({ ':path': `/r${sent}`, ':authority': 'site.test' })
        req.on('error', () => undefined)
        req.close(NGHTTP2_CANCEL)
        sent++
      } catch {
        break
      }
    }
    await sleep(1)
  }
  await sleep(200)
  session.destroy()
  const invoked = edge.calls.n - before
  assert.ok(goaway !== undefined, `no GOAWAY after ${sent} HEADERS+RST_STREAM`)
  assert.ok(invoked <= 100, `handler invoked ${invoked} times for ${sent} cancelled streams`)
  assert.equal(await good(), 200)
})

test('AP14: the per-IP new-stream limit holds across 20 reconnections', async () => {
  await sleep(2100) // let 127.0.0.2's budget refill after the previous test
  const before = edge.calls.n
  const t0 = performance.now()
  let refused = 0
  for (let c = 0; c < 20; c++) {
    const session = h2From(edge.port, '127.0.0.2')
    session.on('error', () => undefined)
    const outcomes = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) =>
          new Promise<'ok' | 'refused'>((resolve) => {
            const req = session.request({ ':path': `/c${c}/${i}`, ':authority': 'site.test' })
            req.on('response', () => {
              req.resume()
            })
            req.on('close', () => {
              resolve(req.rstCode === 0 ? 'ok' : 'refused')
            })
            req.on('error', () => undefined)
          }),
      ),
    )
    refused += outcomes.filter((o) => o === 'refused').length
    session.destroy()
  }
  const seconds = (performance.now() - t0) / 1000
  const served = edge.calls.n - before
  // GCRA: at most burst + rate × elapsed (+1 for the boundary).
  const bound = 100 + 50 * seconds + 1
  assert.ok(served <= bound, `${served} streams served in ${seconds.toFixed(2)} s (bound ${bound})`)
  assert.ok(refused > 0, 'the limit refused streams')
  assert.equal(served + refused, 200)
  assert.ok(edge.hits.includes('ip_new_streams') || refused > 0)
  assert.equal(await good(), 200, 'another IP is not limited')
})

/** Preface + empty SETTINGS from 127.0.0.2, then `flood` frames in batches until the socket closes. */
async function rawFlood(
  frames: () => Buffer,
  max: number,
): Promise<{ sent: number; ms: number; goaway: number | undefined; closedByServer: boolean }> {
  const s = await connectFrom(edge.port, '127.0.0.2')
  const t0 = performance.now()
  const done = closed(s, t0)
  const state = { closed: false }
  s.once('close', () => (state.closed = true))
  s.write(Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0, new Uint8Array(0))]))
  let sent = 0
  while (sent < max && !state.closed && performance.now() - t0 < 10_000) {
    const batch: Buffer[] = []
    for (let i = 0; i < 50 && sent < max; i++, sent++) batch.push(frames())
    if (!s.write(Buffer.concat(batch))) await new Promise((r) => setTimeout(r, 5))
    await sleep(1)
  }
  const closedByServer = state.closed
  if (!closedByServer) s.destroy()
  const r = await done
  return { sent, ms: r.ms, goaway: goawayCode(r.data), closedByServer }
}

test('AP14: a CONTINUATION flood closes the connection', async () => {
  let first = true
  const r = await rawFlood(() => {
    if (first) {
      first = false
      // HEADERS without END_HEADERS, then CONTINUATIONs that never end the block.
      return frame(FrameType.HEADERS, Flag.END_STREAM, 1, requestBlock())
    }
    return frame(FrameType.CONTINUATION, 0, 1, literal('x-flood', 'a'.repeat(100)))
  }, 10_000)
  assert.ok(r.closedByServer, `still open after ${r.sent} frames`)
  assert.ok(r.sent < 10_000)
  assert.notEqual(r.goaway, undefined, 'GOAWAY before close')
  assert.equal(await good(), 200)
})

test('AP14: a SETTINGS flood (read and acknowledged) closes the connection with ENHANCE_YOUR_CALM', async () => {
  const r = await rawFlood(
    () => frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100])),
    10_000,
  )
  assert.ok(r.closedByServer, `still open after ${r.sent} frames`)
  assert.equal(r.goaway, NGHTTP2_ENHANCE_YOUR_CALM)
  assert.ok(edge.hits.includes('control_frames'))
  assert.equal(await good(), 200)
})

test('AP14: a PING flood closes the connection with ENHANCE_YOUR_CALM', async () => {
  const r = await rawFlood(() => frame(FrameType.PING, 0, 0, Buffer.alloc(8)), 10_000)
  assert.ok(r.closedByServer, `still open after ${r.sent} frames`)
  assert.equal(r.goaway, NGHTTP2_ENHANCE_YOUR_CALM)
})

test('AP14: a WINDOW_UPDATE overflow closes the connection with FLOW_CONTROL_ERROR', async () => {
  // RFC 9113 §6.9.1: a window above 2^31-1 is a connection error FLOW_CONTROL_ERROR.
  const r = await rawFlood(() => frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)), 1000)
  assert.ok(r.closedByServer, `still open after ${r.sent} frames`)
  assert.equal(r.goaway, NGHTTP2_FLOW_CONTROL_ERROR)
  assert.equal(await good(), 200)
})

test('AP14: after all floods the process is alive and RSS grew by less than 50 MB', async () => {
  globalThis.gc?.()
  await sleep(100)
  const grown = rssMb() - rss0
  assert.ok(grown < 50, `RSS grew ${grown.toFixed(1)} MB`)
  assert.equal(await good(), 200)
})
