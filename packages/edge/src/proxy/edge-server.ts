/**
 * The HTTP layer of the edge, independent of TLS: it takes plaintext duplex
 * streams (what the TLS server hands over after the handshake, or TCP sockets
 * in plaintext mode) and feeds them to a node:http server (HTTP/1.1) or a
 * node:http2 server (h2), chosen by ALPN, with `server.emit('connection', d)`.
 *
 * Per-connection facts (client address, SNI, ALPN) travel beside the stream in
 * WeakMaps: keyed by the duplex for HTTP/1.1 (`req.socket` is that duplex) and
 * by the Http2Session for h2 (Node creates the session synchronously inside
 * `emit('connection')`, so the 'session' event can pick up the pending facts).
 */
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { Duplex } from 'node:stream'
import type { ConnInfo, RequestHandler } from './handler.ts'
import type { DataPlaneState } from './sites.ts'
import { tunnelUpgrade } from './websocket.ts'

export interface EdgeServerOptions {
  readonly handler: RequestHandler
  readonly state: () => DataPlaneState
  /** Idle keep-alive time for visitor connections (default 5 s). */
  readonly keepAliveMs?: number
  readonly onError?: (e: unknown, what: string) => void
}

export class EdgeServer {
  readonly http1: http.Server
  readonly http2: http2.Http2Server
  readonly #o: EdgeServerOptions
  readonly #conn1 = new WeakMap<Duplex, ConnInfo>()
  readonly #conn2 = new WeakMap<http2.Http2Session, ConnInfo>()
  readonly #live = new Set<Duplex>()
  readonly #sessions = new Set<http2.Http2Session>()
  #pending: ConnInfo | undefined
  #closing = false

  constructor(options: EdgeServerOptions) {
    this.#o = options
    const keepAlive = options.keepAliveMs ?? 5000
    this.http1 = http.createServer({
      keepAliveTimeout: keepAlive,
      requestTimeout: 60_000,
      headersTimeout: 20_000,
    })
    // node:http starts tracking connections (what closeIdleConnections() and the
    // headersTimeout/requestTimeout checks against slow clients rely on) when the
    // server emits 'listening'. This server never listens itself: connections are
    // handed to it, so it is told once here.
    this.http1.emit('listening')
    this.http1.on('request', (req, res) => {
      const info = this.#conn1.get(req.socket) ?? unknownConn
      void options.handler.handle(req, res, info)
    })
    this.http1.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const info = this.#conn1.get(socket) ?? unknownConn
      tunnelUpgrade(options.state(), req, socket, head, info, {
        connectTimeoutMs: options.state().timeouts.connectMs,
        ...(options.onError !== undefined ? { onError: options.onError } : {}),
      })
    })
    this.http1.on('clientError', (_e, socket: Duplex) => {
      socket.destroy()
    })
    this.http2 = http2.createServer({ settings: { maxConcurrentStreams: 256 } })
    this.http2.on('session', (session) => {
      if (this.#pending !== undefined) this.#conn2.set(session, this.#pending)
      this.#sessions.add(session)
      session.once('close', () => this.#sessions.delete(session))
      session.setTimeout(keepAlive * 12, () => {
        session.close()
      })
    })
    this.http2.on('request', (req, res) => {
      const info = this.#conn2.get(req.stream.session as http2.Http2Session) ?? unknownConn
      void options.handler.handle(req, res, info)
    })
  }

  /** Number of open visitor connections. */
  get connections(): number {
    return this.#live.size
  }

  /**
   * Serves one plaintext connection. `info.alpn === 'h2'` selects HTTP/2; anything
   * else HTTP/1.1.
   */
  accept(duplex: Duplex, info: ConnInfo): void {
    if (this.#closing) {
      duplex.destroy()
      return
    }
    this.#live.add(duplex)
    duplex.once('close', () => this.#live.delete(duplex))
    duplex.on('error', (e) => this.#o.onError?.(e, 'connection'))
    if (info.alpn === 'h2') {
      this.#pending = info
      try {
        this.http2.emit('connection', duplex)
      } finally {
        this.#pending = undefined
      }
    } else {
      this.#conn1.set(duplex, info)
      this.http1.emit('connection', duplex)
    }
  }

  /**
   * Listens for plaintext TCP (development, tests, benchmarks). HTTP/2 with prior
   * knowledge (RFC 9113 §3.3) is recognised by its connection preface.
   */
  async listenPlain(host: string, port: number): Promise<net.Server> {
    const server = net.createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        socket.pause()
        socket.unshift(chunk)
        const h2 = chunk.subarray(0, 3).toString('latin1') === 'PRI'
        // node:http2 reads a net.Socket through its native handle and would miss the
        // unshifted preface; a plain Duplex in front makes it read through JS (as it
        // does for a TLS connection).
        this.accept(h2 ? asPlainDuplex(socket) : socket, {
          clientIp: socket.remoteAddress ?? '',
          secure: false,
          ...(h2 ? { alpn: 'h2' } : {}),
        })
        socket.resume()
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    return server
  }

  /**
   * Stops taking connections, lets in-flight requests finish (idle keep-alive
   * connections are closed, h2 sessions get GOAWAY), and after `graceMs`
   * destroys whatever is left.
   */
  async close(graceMs = 5000): Promise<void> {
    this.#closing = true
    this.http1.close()
    this.http1.closeIdleConnections()
    for (const s of this.#sessions) s.close()
    const deadline = Date.now() + graceMs
    while (this.#live.size > 0 && Date.now() < deadline) {
      this.http1.closeIdleConnections()
      await new Promise((r) => setTimeout(r, 20))
    }
    for (const d of this.#live) d.destroy()
    this.http2.close()
  }
}

function asPlainDuplex(socket: net.Socket): Duplex {
  const d = new Duplex({
    read() {
      socket.resume()
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb)
    },
    final(cb) {
      socket.end()
      cb()
    },
    destroy(err, cb) {
      socket.destroy()
      cb(err)
    },
  })
  socket.on('data', (c: Buffer) => {
    if (!d.push(c)) socket.pause()
  })
  socket.on('end', () => d.push(null))
  socket.on('close', () => d.destroy())
  socket.on('error', (e) => d.destroy(e))
  return d
}

const unknownConn: ConnInfo = { clientIp: '', secure: false }
