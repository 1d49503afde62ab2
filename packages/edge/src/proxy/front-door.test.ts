import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer as createHttpServer } from 'node:http'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  frontDoor,
  serialise,
  trackResponse,
  type Answer,
  type FrontDoorHandle,
} from './front-door.ts'
import { asPlainDuplex } from './edge-server.ts'

const DENY: Answer = {
  status: 429,
  headers: ['content-type', 'text/plain', 'retry-after', '1', 'content-length', '2'],
  body: Buffer.from('no'),
}

interface Door {
  readonly port: number
  readonly handles: FrontDoorHandle[]
  /** Requests decided at the front door, by target. */
  readonly decided: string[]
  /** Requests node:http answered: target, whether a pass token came with it, peer address. */
  readonly node: { url: string; pre: string | undefined; remote: string | undefined }[]
}

/**
 * A front door before a node:http server, as the edge wires them: /deny… is answered
 * 429 at the door (or by node:http when the door has handed the request on), /slow…
 * is answered by node:http after 60 ms, anything else by node:http at once.
 */
async function door(
  t: TestContext,
  o: {
    keepAliveMs?: number
    headersTimeoutMs?: number
    maxRequests?: number
    /** Serve a plain JS Duplex over the socket (as the TLS adapter gives), not the socket. */
    wrapped?: boolean
  } = {},
): Promise<Door> {
  const d: Door = { port: 0, handles: [], decided: [], node: [] }
  const pre = new WeakMap<Duplex, string>()
  const http1 = createHttpServer((req, res) => {
    const url = req.url ?? ''
    const token = pre.get(req.socket)
    pre.delete(req.socket)
    d.node.push({ url, pre: token, remote: req.socket.remoteAddress })
    trackResponse(req.socket, res)
    if (url.startsWith('/deny')) {
      res.writeHead(429, { 'content-type': 'text/plain', 'content-length': '2' })
      res.end('no')
      return
    }
    const answer = (): void => {
      const body = `ok ${req.method} ${url}`
      res.writeHead(200, { 'content-length': String(Buffer.byteLength(body)) })
      res.end(body)
    }
    req.resume()
    req.on('end', () => {
      if (url.startsWith('/slow')) setTimeout(answer, 60)
      else answer()
    })
  })
  http1.keepAliveTimeout = o.keepAliveMs ?? 5000
  http1.emit('listening')
  const tcp = createServer((socket) => {
    d.handles.push(
      frontDoor<string>(o.wrapped === true ? asPlainDuplex(socket) : socket, {
        decide: (head) => {
          d.decided.push(head.url)
          if (head.url.startsWith('/deny')) return { kind: 'answer', answer: DENY }
          return { kind: 'handoff', pre: `pre:${head.url}` }
        },
        connect: (s) => {
          http1.emit('connection', s)
        },
        predecided: (s, p) => pre.set(s, p),
        keepAliveMs: o.keepAliveMs ?? 5000,
        headersTimeoutMs: o.headersTimeoutMs ?? 2000,
        maxRequests: o.maxRequests ?? 0,
      }),
    )
  })
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r))
  t.after(() => {
    for (const h of d.handles) h.sweep(Infinity)
    tcp.close()
    http1.closeAllConnections()
  })
  return { ...d, port: (tcp.address() as AddressInfo).port }
}

const get = (path: string, extra = '', method = 'GET'): string =>
  `${method} ${path} HTTP/1.1\r\nHost: a.test\r\n${extra}\r\n`

interface Parsed {
  status: number
  headers: Record<string, string>
  body: string
}

/** A client socket that parses the responses it reads (HEAD answers: pass `heads`). */
function client(port: number): {
  socket: Socket
  responses: Parsed[]
  /** Targets of requests made with HEAD, in order: their responses have no body. */
  heads: boolean[]
  closed: Promise<void>
  next(n: number): Promise<Parsed[]>
} {
  const socket = connect(port, '127.0.0.1')
  const responses: Parsed[] = []
  const heads: boolean[] = []
  let buf = Buffer.alloc(0)
  let waiters: (() => void)[] = []
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk])
    for (;;) {
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) break
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
      const status = Number(lines[0]?.split(' ')[1])
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':')
        headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim()
      }
      const isHead = heads[responses.length] === true
      const len = isHead ? 0 : Number(headers['content-length'] ?? 0)
      if (buf.length < end + 4 + len) break
      responses.push({ status, headers, body: buf.toString('latin1', end + 4, end + 4 + len) })
      buf = buf.subarray(end + 4 + len)
    }
    const w = waiters
    waiters = []
    for (const f of w) f()
  })
  const closed = new Promise<void>((r) => {
    socket.once('close', () => {
      r()
    })
  })
  return {
    socket,
    responses,
    heads,
    closed,
    async next(n) {
      while (responses.length < n) {
        await Promise.race([new Promise<void>((r) => waiters.push(r)), closed])
        if (socket.destroyed && responses.length < n) {
          throw new Error(`closed after ${responses.length} of ${n} responses`)
        }
      }
      return responses.slice(0, n)
    },
  }
}

test('an answered request is written at the front door as node:http would write it', async (t) => {
  const d = await door(t)
  const c = client(d.port)
  c.socket.write(get('/deny-1'))
  const [r] = await c.next(1)
  assert.ok(r)
  assert.equal(r.status, 429)
  assert.equal(r.body, 'no')
  assert.equal(r.headers['retry-after'], '1')
  assert.equal(r.headers['connection'], 'keep-alive')
  assert.equal(r.headers['keep-alive'], 'timeout=5')
  assert.match(r.headers['date'] ?? '', /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/)
  assert.deepEqual(d.decided, ['/deny-1'])
  assert.deepEqual(d.node, [], 'node:http never saw it')
  assert.equal(d.handles[0]?.answered, 1)
  c.socket.destroy()
})

test('serialise: status line, fields once per answer, Date, Connection, body; HEAD without body', () => {
  const full = serialise(DENY, false, 'close\r\n\r\n').toString('latin1')
  assert.match(
    full,
    /^HTTP\/1\.1 429 Too Many Requests\r\ncontent-type: text\/plain\r\nretry-after: 1\r\ncontent-length: 2\r\nDate: [^\r]+\r\nConnection: close\r\n\r\nno$/,
  )
  const head = serialise(DENY, true, 'close\r\n\r\n').toString('latin1')
  assert.equal(head, full.slice(0, -2))
  const bad: Answer = { status: 403, headers: ['x', 'a\r\nSet-Cookie: y'], body: Buffer.alloc(0) }
  assert.throws(() => serialise(bad, false, 'close\r\n\r\n'), /bad answer field x/)
})

test('pipelined requests are answered in order, by the door or by node:http', async (t) => {
  const d = await door(t)
  const c = client(d.port)
  // One write: the door answers /deny-1, hands /slow to node:http; while node:http
  // owes that answer, /deny-2, /ok and /deny-3 go to node:http too (RFC 9112 §9.3.2).
  c.socket.write(get('/deny-1') + get('/slow') + get('/deny-2') + get('/ok') + get('/deny-3'))
  const rs = await c.next(5)
  assert.deepEqual(
    rs.map((r) => `${r.status} ${r.body}`),
    ['429 no', '200 ok GET /slow', '429 no', '200 ok GET /ok', '429 no'],
  )
  assert.deepEqual(
    d.decided,
    ['/deny-1', '/slow'],
    'decided once each, only while nothing was owed',
  )
  assert.deepEqual(
    d.node.map((n) => [n.url, n.pre]),
    [
      ['/slow', 'pre:/slow'],
      ['/deny-2', undefined],
      ['/ok', undefined],
      ['/deny-3', undefined],
    ],
    'only the request the door passed carries its decision',
  )
  assert.equal(d.node[0]?.remote, '127.0.0.1', 'node:http sees the peer through the inner duplex')
  // Once node:http has caught up, the door answers again.
  await sleep(20)
  c.socket.write(get('/deny-4'))
  const [, , , , , r6] = await c.next(6)
  assert.equal(r6?.status, 429)
  assert.deepEqual(d.decided.at(-1), '/deny-4')
  assert.equal(d.node.length, 4)
  c.socket.destroy()
})

for (const wrapped of [false, true]) {
  test(`a request the door does not take hands the rest of the connection to node:http${wrapped ? ' (JS Duplex)' : ''}`, async (t) => {
    const d = await door(t, { wrapped })
    // First request unsupported: node:http gets the connection itself, bytes intact.
    const a = client(d.port)
    a.socket.write(
      'POST /post HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello' + get('/deny-x'),
    )
    const ra = await a.next(2)
    assert.deepEqual(
      ra.map((r) => `${r.status} ${r.body}`),
      ['200 ok POST /post', '429 no'],
    )
    assert.deepEqual(d.decided, [], 'the door decided nothing on that connection')
    assert.equal(d.handles[0]?.attached, false)
    a.socket.destroy()
    // After an answer: the door answers, then node:http takes over.
    const b = client(d.port)
    b.socket.write(
      get('/deny-1') +
        'POST /p2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi' +
        get('/deny-2'),
    )
    const rb = await b.next(3)
    assert.deepEqual(
      rb.map((r) => `${r.status} ${r.body}`),
      ['429 no', '200 ok POST /p2', '429 no'],
    )
    assert.deepEqual(d.decided, ['/deny-1'])
    // Malformed input is node:http's to refuse.
    const m = client(d.port)
    m.socket.write('GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n')
    const [rm] = await m.next(1)
    assert.equal(rm?.status, 400)
    await m.closed
    b.socket.destroy()
  })
}

test('Connection: close, HEAD and maxRequestsPerSocket at the door', async (t) => {
  const d = await door(t, { maxRequests: 3 })
  const c = client(d.port)
  c.heads.push(false, true)
  c.socket.write(get('/deny-1') + get('/deny-h', '', 'HEAD') + get('/deny-2') + get('/deny-4'))
  const [, h, third] = await c.next(3)
  assert.ok(h && third)
  assert.equal(h.headers['content-length'], '2', 'HEAD: the length of the body it would get')
  assert.equal(h.body, '')
  assert.equal(third.body, 'no', 'the response after HEAD is read from the right offset')
  assert.equal(third.headers['connection'], 'close', 'the third answer closes')
  await c.closed
  assert.equal(c.responses.length, 3, 'nothing after the last answer')
  assert.deepEqual(d.decided, ['/deny-1', '/deny-h', '/deny-2'])

  const e = client(d.port)
  e.socket.write(get('/deny-c', 'Connection: close\r\n') + get('/deny-after'))
  const [rc] = await e.next(1)
  assert.equal(rc?.headers['connection'], 'close')
  await e.closed
  assert.equal(e.responses.length, 1)
})

test('a client that ends its side gets its answers, then the end', async (t) => {
  const d = await door(t)
  // Only the door on the connection: it ends the connection itself.
  const a = client(d.port)
  a.socket.end(get('/deny-1') + get('/deny-2'))
  assert.deepEqual(
    (await a.next(2)).map((r) => r.status),
    [429, 429],
  )
  await a.closed
  // node:http shares the connection: the end goes through it (node:http, like a direct
  // socket, ends the connection when the client does).
  const b = client(d.port)
  b.socket.write(get('/ok'))
  await b.next(1)
  b.socket.end(get('/deny-3'))
  assert.equal((await b.next(2))[1]?.status, 429)
  await b.closed
})

test('sweep closes a head left incomplete past the headers timeout and an idle connection past keep-alive', async (t) => {
  const d = await door(t, { headersTimeoutMs: 1000, keepAliveMs: 2000 })
  const slow = client(d.port)
  slow.socket.write('GET /deny HTTP/1.1\r\nHost: a')
  await sleep(50)
  const hs = d.handles[0] as FrontDoorHandle
  const t0 = performance.now()
  assert.equal(hs.sweep(t0), false)
  assert.equal(hs.sweep(t0 + 900), false, 'within the headers timeout')
  assert.equal(hs.sweep(t0 + 1000), true, 'past it')
  await slow.closed

  const idle = client(d.port)
  idle.socket.write(get('/deny'))
  await idle.next(1)
  const hi = d.handles[1] as FrontDoorHandle
  const t1 = performance.now()
  assert.equal(hi.sweep(t1 + 1500), false, 'idle within keep-alive')
  assert.equal(hi.sweep(t1 + 2000), true, 'idle past keep-alive')
  await idle.closed

  // A connection node:http shares is left to node:http's own timers.
  const shared = client(d.port)
  shared.socket.write(get('/ok'))
  await shared.next(1)
  assert.equal((d.handles[2] as FrontDoorHandle).sweep(performance.now() + 2500), false)
  shared.socket.destroy()
})

test('a client that does not read its answers stops being read (bounded memory)', async (t) => {
  const d = await door(t)
  const c = client(d.port)
  c.socket.pause()
  const total = 200_000
  const one = Buffer.from(get('/deny'))
  const flood = Buffer.alloc(one.length * total)
  for (let i = 0; i < total; i++) one.copy(flood, i * one.length)
  c.socket.write(flood)
  await sleep(500)
  const h = d.handles[0] as FrontDoorHandle
  const stalled = h.answered
  assert.ok(stalled > 0 && stalled < total, `answered ${stalled} of ${total} while unread`)
  await sleep(200)
  assert.equal(h.answered, stalled, 'no progress while the client does not read')
  c.socket.resume()
  await c.next(total)
  assert.equal(h.answered, total)
  c.socket.destroy()
})
