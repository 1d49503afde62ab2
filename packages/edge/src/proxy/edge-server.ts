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
 *
 * Attack limits (config `limits`, docs/edge.md "Attack limits",
 * attack-protection.md §1.6): HTTP/1 header, request and keep-alive timeouts
 * checked every second; HTTP/2 max concurrent streams, nghttp2's rapid-reset
 * limit, a header list cap, GOAWAY after too many streams cancelled before any
 * response or too many SETTINGS/PING frames; a write timeout that drops clients
 * that stop reading; a per-IP connection cap and a per-IP new-stream rate that
 * holds across reconnections. h2 requests reach the handler one macrotask late,
 * so a stream reset in the same read (rapid reset) never starts origin work.
 */
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { Duplex } from 'node:stream'
import { LimitsSchema, type EdgeLimits } from '../config.ts'
import { Gcra, normaliseIp } from '../tls/admission.ts'
import { frontDoor, trackResponse, type FrontDoorHandle } from './front-door.ts'
import type { ConnInfo, Predecided, RequestHandler } from './handler.ts'
import type { DataPlaneState } from './sites.ts'
import { tunnelUpgrade } from './websocket.ts'

export interface EdgeServerOptions {
  readonly handler: Pick<RequestHandler, 'handle'> & Partial<Pick<RequestHandler, 'predecide'>>
  readonly state: () => DataPlaneState
  /** Idle keep-alive time for visitor connections (default: limits.http1.keepAliveTimeoutMs). */
  readonly keepAliveMs?: number
  readonly onError?: (e: unknown, what: string) => void
  /** Attack limits; default: the config defaults. */
  readonly limits?: EdgeLimits
  /** Called each time a limit cuts a connection, stream or session (for metrics). */
  readonly onLimit?: (reason: LimitReason) => void
}

export type LimitReason =
  'ip_connections' | 'ip_new_streams' | 'early_resets' | 'control_frames' | 'slow_read'

/** The oldest Node that carries the fixes the edge relies on (attack-protection.md §1.6). */
export const MIN_NODE_VERSION = '24.14.1'

/**
 * Throws unless `version` (default: this process) is at least MIN_NODE_VERSION:
 * 24.14.1 fixes the HTTP/2 WINDOW_UPDATE session leak (CVE-2026-21714), the
 * HMAC timing leak (CVE-2026-21713) and integer-string HashDoS (CVE-2026-21717).
 */
export function requireNodeVersion(version: string = process.versions.node): void {
  const have = version.replace(/^v/, '').split('.').map(Number)
  const need = MIN_NODE_VERSION.split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0
    const b = need[i] ?? 0
    if (Number.isNaN(a) || a < b) {
      throw new Error(
        `Cannot start the edge: Node.js ${MIN_NODE_VERSION} or newer is required (HTTP/2 and HashDoS fixes, CVE-2026-21714/21713/21717); this is Node.js ${version}`,
      )
    }
    if (a > b) return
  }
}

interface Stall {
  since: number
}

export class EdgeServer {
  readonly http1: http.Server
  readonly http2: http2.Http2Server
  readonly #o: EdgeServerOptions
  readonly #conn1 = new WeakMap<Duplex, ConnInfo>()
  readonly #conn2 = new WeakMap<http2.Http2Session, ConnInfo>()
  /** Pass decisions made at the front door, for the first request node:http reads. */
  readonly #pre = new WeakMap<Duplex, Predecided>()
  /** HTTP/1.1 connections still at the front door (front-door.ts). */
  readonly #front = new Set<FrontDoorHandle>()
  readonly #live = new Set<Duplex>()
  readonly #sessions = new Set<http2.Http2Session>()
  readonly #limits: EdgeLimits
  /** Open connections per client IP. */
  readonly #perIp = new Map<string, number>()
  readonly #newStreams: Gcra
  /** Connections whose writes have been blocked since `since` (slow read). */
  readonly #stalls = new WeakMap<Duplex, Stall>()
  readonly #sweeper: NodeJS.Timeout
  #pending: ConnInfo | undefined
  #closing = false

  constructor(options: EdgeServerOptions) {
    requireNodeVersion()
    this.#o = options
    const limits = (this.#limits = options.limits ?? LimitsSchema.parse({}))
    const { http1: h1, http2: h2 } = limits
    const keepAlive = options.keepAliveMs ?? h1.keepAliveTimeoutMs
    this.#newStreams = new Gcra(limits.perIp.newStreams, limits.handshakes.maxTrackedKeys)
    this.http1 = http.createServer({
      keepAliveTimeout: keepAlive,
      requestTimeout: h1.requestTimeoutMs,
      headersTimeout: h1.headersTimeoutMs,
      // Node checks both timeouts on this interval (default 30 s, which lets a
      // slowloris socket linger up to headersTimeout + 30 s).
      connectionsCheckingInterval: h1.checkIntervalMs,
    })
    this.http1.maxRequestsPerSocket = h1.maxRequestsPerSocket
    // node:http starts tracking connections (what closeIdleConnections() and the
    // headersTimeout/requestTimeout checks against slow clients rely on) when the
    // server emits 'listening'. This server never listens itself: connections are
    // handed to it, so it is told once here.
    this.http1.emit('listening')
    this.http1.on('request', (req, res) => {
      const info = this.#conn1.get(req.socket) ?? unknownConn
      const pre = this.#pre.get(req.socket)
      if (pre !== undefined) this.#pre.delete(req.socket)
      trackResponse(req.socket, res)
      void options.handler.handle(req, res, info, pre)
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
    this.http2 = http2.createServer({
      settings: {
        maxConcurrentStreams: h2.maxConcurrentStreams,
        maxHeaderListSize: h2.maxHeaderListSize,
      },
      maxHeaderListPairs: 128,
      // nghttp2's rapid-reset limit (CVE-2023-44487); both must be set.
      streamResetBurst: h2.streamResetBurst,
      streamResetRate: h2.streamResetRate,
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      maxOutstandingPings: 10,
      maxSettings: 32,
    })
    this.http2.on('session', (session) => {
      this.#onSession(session, h2)
    })
    this.http2.on('request', (req, res) => {
      const stream = req.stream
      const info = this.#conn2.get(stream.session as http2.Http2Session) ?? unknownConn
      // One macrotask later: a HEADERS + RST_STREAM pair in one read never starts work.
      setImmediate(() => {
        if (stream.destroyed || stream.closed) return
        void options.handler.handle(req, res, info)
      })
    })
    const sweepMs = Math.max(50, Math.min(1000, Math.floor(limits.writeTimeoutMs / 4)))
    this.#sweeper = setInterval(() => {
      this.#sweepStalls()
    }, sweepMs)
    this.#sweeper.unref()
  }

  #onSession(session: http2.Http2Session, h2: EdgeLimits['http2']): void {
    const info = this.#pending
    if (info !== undefined) this.#conn2.set(session, info)
    this.#sessions.add(session)
    session.once('close', () => this.#sessions.delete(session))
    session.on('error', (e) => this.#o.onError?.(e, 'http2 session'))
    session.setTimeout(h2.idleTimeoutMs, () => {
      session.close()
    })
    const ip = normaliseIp(info?.clientIp ?? '')
    const calm = (reason: LimitReason): void => {
      if (session.destroyed) return
      this.#o.onLimit?.(reason)
      session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM)
      session.destroy()
    }
    let earlyResets = 0
    let refused = 0
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      const now = performance.now()
      if (!this.#newStreams.conforms(ip, now)) {
        // RFC 9113 §8.7: REFUSED_STREAM tells the client nothing was processed.
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
        if (++refused > 10) calm('ip_new_streams')
        return
      }
      this.#newStreams.take(ip, now)
      stream.once('close', () => {
        if (stream.rstCode === http2.constants.NGHTTP2_CANCEL && !stream.headersSent) {
          if (++earlyResets > h2.maxEarlyResets) calm('early_resets')
        }
      })
    })
    // SETTINGS and PING floods (CVE-2019-9512/9515): nghttp2 bounds queued ACKs
    // only while the client does not read; a reading flooder is cut here.
    let window = 0
    let frames = 0
    const control = (): void => {
      const second = Math.floor(performance.now() / 1000)
      if (second !== window) {
        window = second
        frames = 0
      }
      if (++frames > h2.maxControlFramesPerSecond) calm('control_frames')
    }
    session.on('remoteSettings', control)
    session.on('ping', control)
  }

  /** Drops connections whose writes have been blocked longer than the write timeout. */
  #sweepStalls(): void {
    const now = performance.now()
    for (const f of this.#front) if (f.sweep(now)) this.#front.delete(f)
    for (const d of this.#live) {
      if (!d.writableNeedDrain) {
        this.#stalls.delete(d)
        continue
      }
      const stall = this.#stalls.get(d)
      if (stall === undefined) this.#stalls.set(d, { since: now })
      else if (now - stall.since >= this.#limits.writeTimeoutMs) {
        this.#o.onLimit?.('slow_read')
        d.destroy()
      }
    }
  }

  /** Number of open visitor connections. */
  get connections(): number {
    return this.#live.size
  }

  #frontDoorAnswers = 0

  /** Requests answered at the HTTP/1.1 front door (without node:http) so far. */
  get frontDoorAnswers(): number {
    return this.#frontDoorAnswers
  }

  readonly #tcpPerIp = new Map<string, number>()

  /**
   * Counts an accepted TCP connection against its address's cap
   * (`limits.perIp.maxConnections`) before any TLS or HTTP work: false when the
   * address is at its cap (counted as `ip_connections`), and the caller drops the
   * socket. The count falls when the socket closes. Without this, connections
   * still in their TLS handshake (up to the handshake timeout) would not count.
   */
  admitSocket(socket: net.Socket): boolean {
    if (this.#closing) return false
    const ip = normaliseIp(socket.remoteAddress ?? '')
    const open = this.#tcpPerIp.get(ip) ?? 0
    if (open >= this.#limits.perIp.maxConnections) {
      this.#o.onLimit?.('ip_connections')
      return false
    }
    this.#tcpPerIp.set(ip, open + 1)
    socket.once('close', () => {
      const n = (this.#tcpPerIp.get(ip) ?? 1) - 1
      if (n <= 0) this.#tcpPerIp.delete(ip)
      else this.#tcpPerIp.set(ip, n)
    })
    return true
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
    const ip = normaliseIp(info.clientIp)
    const open = this.#perIp.get(ip) ?? 0
    if (open >= this.#limits.perIp.maxConnections) {
      this.#o.onLimit?.('ip_connections')
      duplex.destroy()
      return
    }
    this.#perIp.set(ip, open + 1)
    this.#live.add(duplex)
    // Any progress by the reader ends a stall.
    duplex.on('drain', () => this.#stalls.delete(duplex))
    duplex.once('close', () => {
      this.#live.delete(duplex)
      const n = (this.#perIp.get(ip) ?? 1) - 1
      if (n <= 0) this.#perIp.delete(ip)
      else this.#perIp.set(ip, n)
    })
    duplex.on('error', (e) => this.#o.onError?.(e, 'connection'))
    if (info.alpn === 'h2') {
      this.#pending = info
      try {
        this.http2.emit('connection', duplex)
      } finally {
        this.#pending = undefined
      }
    } else if (
      this.#limits.http1.frontDoor &&
      this.#o.handler.predecide !== undefined &&
      this.#protects()
    ) {
      this.#frontDoor(duplex, info, this.#o.handler.predecide.bind(this.#o.handler))
    } else {
      this.#toHttp1(duplex, info)
    }
  }

  /** node:http takes `socket` (a visitor connection, or a front door's inner duplex). */
  #toHttp1(socket: Duplex, info: ConnInfo): void {
    this.#conn1.set(socket, info)
    this.http1.emit('connection', socket)
  }

  /** Starts an HTTP/1.1 connection at the front door (its cheap reject path). */
  #frontDoor(
    duplex: Duplex,
    info: ConnInfo,
    predecide: NonNullable<EdgeServerOptions['handler']['predecide']>,
  ): void {
    const h1 = this.#limits.http1
    const handle = frontDoor<Predecided>(duplex, {
      decide: (head) => {
        const d = predecide(head, info)
        if (d.kind === 'answer') this.#frontDoorAnswers++
        return d
      },
      connect: (socket) => {
        this.#toHttp1(socket, info)
      },
      predecided: (socket, pre) => this.#pre.set(socket, pre),
      keepAliveMs: this.#o.keepAliveMs ?? h1.keepAliveTimeoutMs,
      headersTimeoutMs: h1.headersTimeoutMs,
      maxRequests: h1.maxRequestsPerSocket,
    })
    this.#front.add(handle)
  }

  #protectsState: DataPlaneState | undefined
  #protectsAny = false

  /** Whether any site of the current state has protection (else the front door has nothing to answer). */
  #protects(): boolean {
    const state = this.#o.state()
    if (state !== this.#protectsState) {
      this.#protectsState = state
      this.#protectsAny = [...state.sites.values()].some((s) => s.config.protection !== undefined)
    }
    return this.#protectsAny
  }

  /**
   * Listens for plaintext TCP (development, tests, benchmarks). HTTP/2 with prior
   * knowledge (RFC 9113 §3.3) is recognised by its connection preface.
   */
  async listenPlain(host: string, port: number): Promise<net.Server> {
    const server = net.createServer((socket) => {
      if (!this.admitSocket(socket)) {
        socket.destroy()
        return
      }
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
    clearInterval(this.#sweeper)
    this.http1.close()
    this.http1.closeIdleConnections()
    // Front-door connections are between requests whenever JS runs: like idle ones.
    for (const f of this.#front) f.sweep(Infinity)
    this.#front.clear()
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

/** A plain JS Duplex in front of `socket` (node:http2 then reads it through JS, not the handle). */
export function asPlainDuplex(socket: net.Socket): Duplex {
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
