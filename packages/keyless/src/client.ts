/**
 * The keyless client: a pool of mutual-TLS connections to one or more key
 * servers, with failover.
 *
 * Design. Each key server is an endpoint in one of three states:
 *
 *   idle ──connect ok──► up ──transport failure / timeout / failed ping──► down
 *    ▲                    │                                                 │
 *    └─server closed an───┘            backoff timer: connect ok ──► up ◄───┘
 *      idle connection                                 fails   ──► down (longer backoff)
 *
 * Operations go round-robin to `up` endpoints; only if none is up do they
 * connect to an `idle` one (bounded by `connectTimeoutMs`). A `down` endpoint is
 * skipped until its reconnect timer (exponential backoff from
 * `reconnectBaseMs` up to `reconnectMaxMs`, with jitter to avoid a thundering
 * herd of edges) brings it back; recovery needs no caller action. When every
 * endpoint is down, `execute` rejects at once with ERR_KEYLESS_UNAVAILABLE
 * instead of waiting out its deadline, so the TLS handshake it serves fails fast.
 *
 * An operation that fails for a transport reason (connect error, connection
 * lost, timeout) marks its endpoint down and is retried once on another
 * endpoint, within the same overall deadline. An Error answer from a key server
 * (KeylessRemoteError) is a decision, never retried.
 *
 * Idle connections are pinged every `healthCheckIntervalMs` with a non-empty
 * payload (C servers answer payload-less pings with FORMAT), which also keeps
 * them inside the servers' 30 s idle limit.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import tls from 'node:tls'
import { isIP } from 'node:net'
import { equalBytes } from '@outpost/wire'
import { ClientConnection } from './client-connection.ts'
import { ErrorCode, Op, nameOfOp } from './codec/constants.ts'
import type { Operation, Padding } from './codec/frame.ts'
import {
  KeylessClosedError,
  KeylessConnectionError,
  KeylessError,
  KeylessProtocolError,
  KeylessRemoteError,
  KeylessTimeoutError,
  KeylessUnavailableError,
} from './errors.ts'

export interface KeylessServerAddress {
  host: string
  port: number
  /** Name to verify the server certificate against (and send as SNI); default `host`. */
  servername?: string
}

export interface KeylessClientOptions {
  servers: KeylessServerAddress[]
  /** PEM of the CA(s) that issued the key servers' certificates (nothing else is trusted). */
  ca: string | Uint8Array
  /** PEM client certificate (chain) presented to the key servers. */
  cert: string | Uint8Array
  /** PEM client private key. Pass a Uint8Array: the client copies it into the TLS context and zeroes its copy. */
  key: string | Uint8Array
  /** Default deadline of one operation, retry included (default 10000). */
  operationTimeoutMs?: number
  /** TCP + TLS handshake deadline (default 3000). */
  connectTimeoutMs?: number
  /** Ping connections idle this long (default 15000; keep it under the servers' 30 s idle close). */
  healthCheckIntervalMs?: number
  /** 'TLSv1.3' (default): TLS 1.3 only. 'TLSv1.2': TLS 1.2 only, with the two ECDHE AES-256-GCM suites existing key servers use. */
  tlsMaxVersion?: 'TLSv1.2' | 'TLSv1.3'
  /** Connections per key server, opened as load requires (default 1). */
  connectionsPerServer?: number
  /** First reconnect delay after a failure (default 250). */
  reconnectBaseMs?: number
  /** Longest reconnect delay (default 30000). */
  reconnectMaxMs?: number
  /** Padding style of requests (default 'gokeyless'). */
  padding?: Padding
  /** First request ID on each new connection (default 0; tests use it to exercise wrapping). */
  firstRequestId?: number
  onEvent?: (e: KeylessClientEvent) => void
}

/** kind: 'up', 'down', 'idle' (server closed an idle connection), 'health-failed', 'retry'. */
export interface KeylessClientEvent {
  kind: string
  server: string
  detail?: string
}

export type EndpointState = 'idle' | 'up' | 'down'

export interface EndpointStatus {
  server: string
  state: EndpointState
  connections: number
  failures: number
}

export interface ExecuteOptions {
  timeoutMs?: number
  signal?: AbortSignal
}

const TLS12_CIPHERS = 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384'

interface Endpoint {
  readonly address: KeylessServerAddress
  readonly name: string
  state: EndpointState
  conns: ClientConnection[]
  connecting: Promise<ClientConnection> | undefined
  failures: number
  retryTimer: NodeJS.Timeout | undefined
}

/**
 * @example
 * ```ts
 * const client = new KeylessClient({
 *   servers: [{ host: 'ks1.example', port: 2407 }, { host: 'ks2.example', port: 2407 }],
 *   ca: caPem, cert: clientCertPem, key: clientKeyBytes,
 * })
 * const answer = await client.execute({ opcode: Op.EcdsaSignSha256, ski, payload: digest })
 * ```
 */
export class KeylessClient {
  readonly #endpoints: Endpoint[]
  /** Dropped by close(), so a closed client no longer keeps the key's TLS context alive. */
  #context: tls.SecureContext | undefined
  readonly #minVersion: tls.SecureVersion
  readonly #maxVersion: tls.SecureVersion
  readonly #operationTimeoutMs: number
  readonly #connectTimeoutMs: number
  readonly #healthIntervalMs: number
  readonly #perServer: number
  readonly #reconnectBaseMs: number
  readonly #reconnectMaxMs: number
  readonly #padding: Padding
  readonly #firstRequestId: number
  readonly #onEvent: (e: KeylessClientEvent) => void
  readonly #healthTimer: NodeJS.Timeout
  #roundRobin = 0
  #closed = false

  constructor(o: KeylessClientOptions) {
    if (o.servers.length === 0) throw new TypeError('KeylessClient needs at least one server')
    this.#endpoints = o.servers.map((address) => ({
      address,
      name: `${address.host}:${address.port}`,
      state: 'idle',
      conns: [],
      connecting: undefined,
      failures: 0,
      retryTimer: undefined,
    }))
    const tls12 = o.tlsMaxVersion === 'TLSv1.2'
    this.#minVersion = tls12 ? 'TLSv1.2' : 'TLSv1.3'
    this.#maxVersion = this.#minVersion
    // The key is copied into OpenSSL's context once; our copy is zeroed at once.
    const key = Buffer.from(o.key)
    try {
      this.#context = tls.createSecureContext({
        ca: typeof o.ca === 'string' ? o.ca : Buffer.from(o.ca),
        cert: typeof o.cert === 'string' ? o.cert : Buffer.from(o.cert),
        key,
        minVersion: this.#minVersion,
        maxVersion: this.#maxVersion,
        ...(tls12 ? { ciphers: TLS12_CIPHERS } : {}),
      })
    } finally {
      key.fill(0)
    }
    this.#operationTimeoutMs = o.operationTimeoutMs ?? 10_000
    this.#connectTimeoutMs = o.connectTimeoutMs ?? 3_000
    this.#healthIntervalMs = o.healthCheckIntervalMs ?? 15_000
    this.#perServer = Math.max(1, o.connectionsPerServer ?? 1)
    this.#reconnectBaseMs = o.reconnectBaseMs ?? 250
    this.#reconnectMaxMs = o.reconnectMaxMs ?? 30_000
    this.#padding = o.padding ?? 'gokeyless'
    this.#firstRequestId = o.firstRequestId ?? 0
    const onEvent = o.onEvent
    this.#onEvent = (e) => {
      try {
        onEvent?.(e)
      } catch {
        // A faulty logger must not break the client.
      }
    }
    this.#healthTimer = setInterval(
      () => {
        this.#healthCheck()
      },
      Math.max(20, Math.floor(this.#healthIntervalMs / 3)),
    )
    this.#healthTimer.unref()
  }

  #isClosed(): boolean {
    return this.#closed
  }

  /** Each key server's state, for health endpoints and tests. */
  status(): EndpointStatus[] {
    return this.#endpoints.map((ep) => ({
      server: ep.name,
      state: ep.state,
      connections: ep.conns.length,
      failures: ep.failures,
    }))
  }

  /**
   * Sends `op` to a healthy key server and resolves with its answer (Op.Response,
   * or Op.Pong for a ping). Rejects with KeylessRemoteError for an Error answer,
   * KeylessTimeoutError at the deadline, KeylessUnavailableError when every
   * server is down, KeylessConnectionError when the transport failed on the
   * retry too, or the signal's reason when aborted.
   */
  async execute(op: Operation, o: ExecuteOptions = {}): Promise<Operation> {
    if (this.#closed) throw new KeylessClosedError()
    o.signal?.throwIfAborted()
    const timeoutMs = o.timeoutMs ?? this.#operationTimeoutMs
    const deadline = performance.now() + timeoutMs
    const tried = new Set<Endpoint>()
    let lastError: KeylessError | undefined
    for (let attempt = 0; attempt < 2; attempt++) {
      const ep = this.#pick(tried)
      if (ep === undefined) break
      tried.add(ep)
      this.#warmStandby()
      const remaining = deadline - performance.now()
      if (remaining <= 0) break
      try {
        // Picked and sent in the same tick, so concurrent operations see each
        // other's load and spread over the pool.
        const conn = leastLoaded(ep) ?? (await this.#connected(ep, remaining, o.signal))
        const sent = conn.send(op, {
          timeoutMs: Math.max(1, deadline - performance.now()),
          signal: o.signal,
        })
        this.#maybeGrow(ep, conn)
        const answer = await sent
        return interpret(op, answer, ep.name)
      } catch (e) {
        if (!(e instanceof KeylessError) || !e.isTransport || this.#isClosed()) throw e
        lastError = e
        this.#markDown(ep, e)
        if (attempt === 0) this.#onEvent({ kind: 'retry', server: ep.name, detail: e.message })
      }
    }
    if (lastError instanceof KeylessTimeoutError || performance.now() >= deadline) {
      throw (
        lastError ??
        new KeylessTimeoutError(`Keyless ${nameOfOp(op.opcode)} timed out after ${timeoutMs} ms`)
      )
    }
    if (lastError !== undefined) throw lastError
    throw new KeylessUnavailableError(
      `Cannot execute ${nameOfOp(op.opcode)}: all ${this.#endpoints.length} key servers are down (${this.#endpoints
        .map((ep) => ep.name)
        .join(', ')})`,
    )
  }

  /**
   * Round-trips a ping (with a non-empty payload by default, which every peer
   * answers) and resolves with the time it took in milliseconds.
   */
  async ping(payload: Uint8Array = new Uint8Array(randomBytes(8))): Promise<number> {
    const t0 = performance.now()
    const answer = await this.execute({ opcode: Op.Ping, payload })
    if (!equalBytes(answer.payload ?? new Uint8Array(0), payload)) {
      throw new KeylessProtocolError('Keyless ping: the pong does not echo the payload')
    }
    return performance.now() - t0
  }

  /** Closes every connection and stops reconnecting; operations in flight fail with ERR_KEYLESS_CLOSED. */
  close(): Promise<void> {
    this.#closed = true
    this.#context = undefined
    clearInterval(this.#healthTimer)
    for (const ep of this.#endpoints) {
      clearTimeout(ep.retryTimer)
      for (const c of ep.conns) c.close(new KeylessClosedError('Keyless client closed'))
      ep.conns = []
    }
    return Promise.resolve()
  }

  // Connects every idle endpoint in the background, so that a failover finds a
  // ready connection (and a dead server is found, and put on backoff, early).
  #warmStandby(): void {
    for (const ep of this.#endpoints) {
      if (ep.state === 'idle' && ep.connecting === undefined)
        this.#connect(ep).catch(() => undefined)
    }
  }

  #pick(exclude: ReadonlySet<Endpoint>): Endpoint | undefined {
    const n = this.#endpoints.length
    for (let i = 0; i < n; i++) {
      const ep = this.#endpoints[(this.#roundRobin + i) % n]
      if (ep !== undefined && ep.state === 'up' && !exclude.has(ep)) {
        this.#roundRobin = (this.#roundRobin + i + 1) % n
        return ep
      }
    }
    return this.#endpoints.find((ep) => ep.state === 'idle' && !exclude.has(ep))
  }

  #connected(
    ep: Endpoint,
    budgetMs: number,
    signal: AbortSignal | undefined,
  ): Promise<ClientConnection> {
    return withDeadline(ep.connecting ?? this.#connect(ep), budgetMs, signal, ep.name)
  }

  // Grows the pool in the background when the connection just used already
  // carried other requests; this operation keeps the connection it has.
  #maybeGrow(ep: Endpoint, conn: ClientConnection): void {
    if (
      conn.inFlight > 1 &&
      ep.state === 'up' &&
      ep.conns.length < this.#perServer &&
      ep.connecting === undefined
    ) {
      this.#connect(ep).catch(() => undefined)
    }
  }

  #connect(ep: Endpoint): Promise<ClientConnection> {
    if (ep.connecting !== undefined) return ep.connecting
    const context = this.#context
    if (context === undefined) {
      return Promise.reject(new KeylessClosedError('Keyless client closed'))
    }
    const { host, port, servername } = ep.address
    const p = new Promise<ClientConnection>((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        // RFC 6066 §3: SNI carries host names only. For an IP address, send no SNI
        // and verify the certificate's IP subjectAltName instead.
        ...(servername === undefined
          ? {}
          : isIP(servername) === 0
            ? { servername }
            : {
                checkServerIdentity: (_h: string, cert: tls.PeerCertificate) =>
                  tls.checkServerIdentity(servername, cert),
              }),
        secureContext: context,
        minVersion: this.#minVersion,
        maxVersion: this.#maxVersion,
      })
      const fail = (e: Error): void => {
        clearTimeout(timer)
        socket.destroy()
        reject(
          e instanceof KeylessError
            ? e
            : new KeylessConnectionError(`Cannot connect to key server ${ep.name}: ${e.message}`, {
                cause: e,
              }),
        )
      }
      const timer = setTimeout(() => {
        fail(
          new KeylessConnectionError(
            `Cannot connect to key server ${ep.name}: no TLS handshake within ${this.#connectTimeoutMs} ms`,
          ),
        )
      }, this.#connectTimeoutMs)
      socket.once('error', fail)
      socket.once('secureConnect', () => {
        clearTimeout(timer)
        socket.off('error', fail)
        socket.setNoDelay(true)
        if (this.#closed) {
          socket.destroy()
          reject(new KeylessClosedError())
          return
        }
        const conn = new ClientConnection(socket, {
          name: ep.name,
          firstRequestId: this.#firstRequestId,
          padding: this.#padding,
          onClose: (reason, hadInFlight) => {
            this.#onConnectionClosed(ep, conn, reason, hadInFlight)
          },
        })
        ep.conns.push(conn)
        clearTimeout(ep.retryTimer)
        ep.retryTimer = undefined
        if (ep.state !== 'up') {
          this.#onEvent({ kind: 'up', server: ep.name, detail: socket.getProtocol() ?? '' })
        }
        ep.state = 'up'
        ep.failures = 0
        resolve(conn)
      })
    })
    ep.connecting = p
    p.then(
      () => {
        ep.connecting = undefined
      },
      (e: unknown) => {
        ep.connecting = undefined
        if (e instanceof KeylessError && e.isTransport) this.#markDown(ep, e)
      },
    )
    return p
  }

  #onConnectionClosed(
    ep: Endpoint,
    conn: ClientConnection,
    reason: Error,
    hadInFlight: boolean,
  ): void {
    ep.conns = ep.conns.filter((c) => c !== conn)
    if (this.#closed || ep.state !== 'up') return
    if (hadInFlight) {
      this.#markDown(ep, reason)
    } else if (ep.conns.length === 0) {
      // The server closed a quiet connection (its idle limit, or a restart):
      // not a failure; the next operation reconnects.
      ep.state = 'idle'
      this.#onEvent({ kind: 'idle', server: ep.name, detail: reason.message })
    }
  }

  #markDown(ep: Endpoint, reason: Error): void {
    if (this.#closed) return
    const wasDown = ep.state === 'down'
    ep.state = 'down'
    const conns = ep.conns
    ep.conns = []
    const abandoned = new KeylessConnectionError(
      `Keyless connection to ${ep.name} abandoned: ${reason.message}`,
      { cause: reason },
    )
    for (const c of conns) c.close(abandoned)
    if (wasDown && ep.retryTimer !== undefined) return
    ep.failures++
    this.#onEvent({ kind: 'down', server: ep.name, detail: reason.message })
    // Exponential backoff with "equal jitter": half fixed, half random.
    const ceiling = Math.min(
      this.#reconnectMaxMs,
      this.#reconnectBaseMs * 2 ** Math.min(ep.failures - 1, 20),
    )
    const delay = Math.ceil(ceiling / 2 + randomInt(Math.max(1, Math.floor(ceiling / 2)) + 1))
    clearTimeout(ep.retryTimer)
    ep.retryTimer = setTimeout(() => {
      ep.retryTimer = undefined
      if (this.#closed) return
      this.#connect(ep).catch(() => undefined)
    }, delay)
    ep.retryTimer.unref()
  }

  #healthCheck(): void {
    if (this.#closed) return
    const now = performance.now()
    for (const ep of this.#endpoints) {
      for (const conn of ep.conns) {
        if (conn.inFlight > 0 || now - conn.lastActivity < this.#healthIntervalMs) continue
        const payload = new Uint8Array(randomBytes(8))
        conn
          .send(
            { opcode: Op.Ping, payload },
            { timeoutMs: Math.min(this.#operationTimeoutMs, this.#healthIntervalMs) },
          )
          .then((answer) => {
            if (
              answer.opcode !== Op.Pong ||
              !equalBytes(answer.payload ?? new Uint8Array(0), payload)
            ) {
              throw new KeylessProtocolError(`Keyless health check of ${ep.name}: bad pong`)
            }
          })
          .catch((e: unknown) => {
            if (this.#closed || !conn.isOpen) return
            const err = e instanceof Error ? e : new Error(String(e))
            this.#onEvent({ kind: 'health-failed', server: ep.name, detail: err.message })
            if (ep.conns.includes(conn)) this.#markDown(ep, err)
          })
      }
    }
  }
}

function leastLoaded(ep: Endpoint): ClientConnection | undefined {
  let best: ClientConnection | undefined
  for (const c of ep.conns) if (best === undefined || c.inFlight < best.inFlight) best = c
  return best
}

function interpret(req: Operation, answer: Operation, server: string): Operation {
  if (answer.opcode === Op.Error) {
    throw new KeylessRemoteError(
      answer.payload?.length === 1 ? (answer.payload[0] ?? 0) : ErrorCode.None,
    )
  }
  const expected = req.opcode === Op.Ping ? Op.Pong : Op.Response
  if (answer.opcode !== expected) {
    throw new KeylessProtocolError(
      `Key server ${server} answered ${nameOfOp(req.opcode)} with ${nameOfOp(answer.opcode)}`,
    )
  }
  return answer
}

function withDeadline<T>(
  p: Promise<T>,
  ms: number,
  signal: AbortSignal | undefined,
  name: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      done()
      reject(
        new KeylessTimeoutError(
          `Keyless connection to ${name} not ready within ${Math.round(ms)} ms`,
        ),
      )
    }, ms)
    const onAbort = (): void => {
      done()
      reject(
        signal?.reason instanceof Error ? signal.reason : new DOMException('Aborted', 'AbortError'),
      )
    }
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        done()
        resolve(v)
      },
      (e: unknown) => {
        done()
        reject(e instanceof Error ? e : new Error(String(e)))
      },
    )
  })
}
