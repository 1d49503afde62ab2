/**
 * The Node driver for ServerConnection: a net.Socket on one side, a plaintext
 * `stream.Duplex` on the other, which `http.Server` and `http2.Server` accept
 * through `server.emit('connection', conn)`.
 *
 * - Backpressure: plaintext that the reader does not take pauses the socket;
 *   `_write` calls back only when the socket accepted the ciphertext.
 * - The handshake's signature runs asynchronously (a local or remote Signer);
 *   meanwhile other connections and this socket's I/O continue; the signature
 *   is aborted (AbortSignal) when the socket goes away.
 * - After a fatal alert the socket is ended at once and destroyed soon after.
 * - Handshake timeout and idle timeout close the socket without an alert.
 */
import { Duplex } from 'node:stream'
import { isIPv4, isIPv6, type AddressInfo, type Socket } from 'node:net'
import { ServerConnection, type ConnectionInfo } from '../server/machine.ts'
import {
  forPeer,
  resolveConfig,
  type ResolvedConfig,
  type TlsServerConfig,
} from '../server/config.ts'
import { ConnectionClosedError } from '../errors.ts'
import type { SignContext } from '../signer.ts'

type WriteCallback = (error?: Error | null) => void

/** The largest TLSCiphertext record, header included (RFC 8446 §5.2). */
const MAX_RECORD_BYTES = 5 + 16384 + 256
/** Records this large or larger are sealed into reusable buffers; smaller ones come from Buffer's pool. */
const REUSE_FROM_BYTES = 4096
/** Spare full-size record buffers kept by this thread, shared by its connections (at most 1 MiB). */
const MAX_SPARE_RECORDS = 64
const spareRecords: Uint8Array[] = []

/** The abort reason of a connection destroyed after its handshake completed (shared). */
const DESTROYED_AFTER_HANDSHAKE = new ConnectionClosedError('Cannot continue: connection destroyed')

/**
 * A TLS 1.3 server connection over a socket; read and write it as plaintext.
 * Emits 'secure' when the handshake completes and 'tlsError' (with the error)
 * when it fails; the peer's misbehaviour never becomes an 'error' event.
 */
export class TlsConnection extends Duplex {
  readonly #socket: Socket
  readonly #conn: ServerConnection
  readonly #config: ResolvedConfig
  #signing: AbortController | undefined
  #queuedWrites: { chunks: Uint8Array[]; cb: WriteCallback }[] = []
  #drainCallback: WriteCallback | undefined
  readonly #handshakeTimer: NodeJS.Timeout | undefined
  #secureEmitted = false
  #endPushed = false
  #failed = false
  #corked = false
  /** Reusable record buffers handed to the socket and not yet known to be in the kernel. */
  #lentRecords: Uint8Array[] = []

  constructor(socket: Socket, config: TlsServerConfig | ResolvedConfig) {
    super({ allowHalfOpen: true })
    this.#socket = socket
    // The admission hook (if any) sees the peer address; without one, no
    // getpeername system call for it.
    const resolved = 'cookieKey' in config ? config : resolveConfig(config)
    this.#config = resolved.admit === undefined ? resolved : forPeer(resolved, socket.remoteAddress)
    // Socket chunks are ours alone (records are opened where they lie), and records
    // are sealed into uninitialised memory that the record layer overwrites whole.
    this.#conn = new ServerConnection(this.#config, {
      ownsInput: true,
      allocate: this.#allocateRecord,
    })
    socket.on('data', (d: Uint8Array) => {
      this.#conn.receive(d)
      this.#signNow()
      this.#pump()
    })
    socket.on('end', () => {
      // A TCP FIN without close_notify (truncation): end the plaintext side too.
      if (!this.#conn.isHandshakeComplete) {
        this.destroy()
        return
      }
      this.#pushEnd()
    })
    socket.on('drain', () => {
      this.#reclaimRecords()
      const cb = this.#drainCallback
      this.#drainCallback = undefined
      cb?.()
    })
    socket.on('error', () => {
      this.destroy()
    })
    socket.on('close', () => {
      this.destroy()
    })
    socket.on('timeout', () => {
      if (this.listenerCount('timeout') > 0) this.emit('timeout')
      else this.destroy()
    })
    if (this.#config.idleTimeoutMs > 0) socket.setTimeout(this.#config.idleTimeoutMs)
    if (this.#config.handshakeTimeoutMs > 0) {
      this.#handshakeTimer = setTimeout(() => {
        this.#conn.abort(
          new ConnectionClosedError('Cannot complete handshake: timed out', 'ERR_TLS_TIMEOUT'),
        )
        this.emit('tlsError', this.#conn.error)
        this.destroy()
      }, this.#config.handshakeTimeoutMs)
      this.#handshakeTimer.unref()
    }
  }

  /** Negotiated parameters, once the ServerHello is decided. */
  getInfo(): ConnectionInfo | undefined {
    return this.#conn.getInfo()
  }

  /** Sends KeyUpdate(update_requested) (RFC 8446 §4.6.3). */
  updateKeys(): void {
    this.#conn.requestKeyUpdate()
    this.#flush()
  }

  /** Resolves when the handshake completes; rejects if the connection fails first. */
  handshake(): Promise<void> {
    if (this.#secureEmitted) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const onSecure = (): void => {
        this.off('close', onClose)
        resolve()
      }
      const onClose = (): void => {
        this.off('secure', onSecure)
        reject(
          (this.#conn.error as Error | undefined) ??
            new ConnectionClosedError('Cannot complete handshake: closed'),
        )
      }
      this.once('secure', onSecure)
      this.once('close', onClose)
    })
  }

  // socket-like surface for http.Server and friends
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress
  }
  get remotePort(): number | undefined {
    return this.#socket.remotePort
  }
  get remoteFamily(): string | undefined {
    return this.#socket.remoteFamily
  }
  get localAddress(): string | undefined {
    return this.#socket.localAddress
  }
  get localPort(): number | undefined {
    return this.#socket.localPort
  }
  get encrypted(): true {
    return true
  }
  address(): AddressInfo | string | null {
    return this.#socket.address() as AddressInfo | string | null
  }
  setTimeout(ms: number, cb?: () => void): this {
    this.#socket.setTimeout(ms)
    if (cb) this.once('timeout', cb)
    return this
  }
  setNoDelay(noDelay?: boolean): this {
    this.#socket.setNoDelay(noDelay)
    return this
  }
  setKeepAlive(enable?: boolean, delayMs?: number): this {
    this.#socket.setKeepAlive(enable, delayMs)
    return this
  }

  // --- Duplex ---------------------------------------------------------------

  override _read(): void {
    if (this.#socket.isPaused()) this.#socket.resume()
  }

  override _write(chunk: Uint8Array, _enc: BufferEncoding, cb: WriteCallback): void {
    this._writev([{ chunk }], cb)
  }

  override _writev(chunks: { chunk: Uint8Array }[], cb: WriteCallback): void {
    const list = chunks.map((c) => c.chunk)
    if (!this.#secureEmitted) {
      this.#queuedWrites.push({ chunks: list, cb })
      return
    }
    this.#writeNow(list, cb)
  }

  #writeNow(list: Uint8Array[], cb: WriteCallback): void {
    try {
      // Small writes (HTTP header + body) go out as one record.
      this.#conn.writeAll(list)
    } catch (e) {
      cb(e as Error)
      return
    }
    if (this.#flush()) cb()
    else this.#drainCallback = cb
  }

  /**
   * node:http's socketOnEnd calls end() again on a connection it already ended
   * (`Connection: close`); Writable.end would build an ERR_STREAM_ALREADY_FINISHED
   * error (with a stack) only to hand it to a missing callback. Skip that case.
   */
  override end(...args: unknown[]): this {
    if (this.writableFinished && args.length === 0) return this
    return super.end(...(args as []))
  }

  override _final(cb: WriteCallback): void {
    if (!this.#conn.error) {
      this.#conn.close()
      this.#flush()
    }
    this.#socket.end()
    cb()
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer)
    this.#signing?.abort()
    // After a completed handshake the reason is never shown to anyone: skip
    // building (and capturing a stack for) a new error on every close.
    this.#conn.abort(
      this.#conn.isHandshakeComplete
        ? DESTROYED_AFTER_HANDSHAKE
        : new ConnectionClosedError('Cannot continue: connection destroyed'),
    )
    for (const w of this.#queuedWrites)
      w.cb(new ConnectionClosedError('Cannot write: connection destroyed'))
    this.#queuedWrites = []
    const d = this.#drainCallback
    this.#drainCallback = undefined
    d?.(new ConnectionClosedError('Cannot write: connection destroyed'))
    this.#socket.destroy()
    cb(err)
  }

  // --- driving the machine -------------------------------------------------------

  /**
   * Writes queued ciphertext; false if the socket asked us to wait. The socket
   * stays corked until the check phase of this event-loop turn (setImmediate),
   * so everything produced while handling one read leaves in one writev: the
   * tickets, node:http's response (written a few ticks after the data it
   * answers) and the close_notify after it, instead of one write each.
   */
  #flush(): boolean {
    const out = this.#conn.takeOutput()
    const s = this.#socket
    if (out.length === 0 || s.destroyed) return !s.writableNeedDrain
    if (!this.#corked) {
      this.#corked = true
      s.cork()
      setImmediate(this.#uncork)
    }
    let ok = true
    for (const o of out) ok = s.write(o)
    return ok
  }

  readonly #uncork = (): void => {
    this.#corked = false
    this.#socket.uncork()
    this.#reclaimRecords()
  }

  /**
   * The array a record is sealed into. Never zero-filled: the record layer writes
   * every byte. A large record gets a full-size buffer that is reused once the
   * socket has handed its bytes to the kernel (see #reclaimRecords); a zeroed
   * ArrayBuffer per 16 KiB record cost more than its AES-GCM (allocation plus
   * V8's concurrent marking, which external memory keeps triggering).
   */
  readonly #allocateRecord = (bytes: number): Uint8Array => {
    if (bytes < REUSE_FROM_BYTES || bytes > MAX_RECORD_BYTES) return Buffer.allocUnsafe(bytes)
    const b = spareRecords.pop() ?? Buffer.allocUnsafeSlow(MAX_RECORD_BYTES)
    this.#lentRecords.push(b)
    return b.subarray(0, bytes)
  }

  /**
   * Takes back the record buffers written so far, once nothing is queued in the
   * socket: Writable's length drops to 0 only when every write (ours are sealed
   * records) has been written out to the kernel, so no write request still refers to them.
   * Called after uncorking and on 'drain'; while the socket is destroyed or
   * queueing, lent buffers are left to the GC or to the next call.
   */
  #reclaimRecords(): void {
    const lent = this.#lentRecords
    if (lent.length === 0 || this.#socket.writableLength !== 0 || this.#socket.destroyed) return
    for (const b of lent) if (spareRecords.length < MAX_SPARE_RECORDS) spareRecords.push(b)
    this.#lentRecords = []
  }

  #pump(): void {
    this.#flush()
    const conn = this.#conn
    for (const p of conn.takePlaintext()) {
      if (!this.push(p)) this.#socket.pause()
    }
    if (conn.error !== undefined) {
      this.#onFailure()
      return
    }
    if (!this.#secureEmitted && conn.isHandshakeComplete) {
      this.#secureEmitted = true
      if (this.#handshakeTimer) clearTimeout(this.#handshakeTimer)
      this.emit('secure')
      const queued = this.#queuedWrites
      this.#queuedWrites = []
      for (const w of queued) this.#writeNow(w.chunks, w.cb)
    }
    if (conn.signRequest && !this.#signing) this.#startSignature()
    if (conn.isPeerClosed) this.#pushEnd()
  }

  /**
   * A signer that can sign at once (a local ECDSA/EdDSA key) does so here,
   * before the flight is taken: no promise round trip, and CertificateVerify
   * and Finished join EncryptedExtensions and Certificate in one record.
   */
  #signNow(): void {
    const req = this.#conn.signRequest
    if (req?.signer.signNow === undefined) return
    let sig: Uint8Array
    try {
      sig = req.signer.signNow(req.scheme, req.content)
    } catch (err) {
      this.#conn.signatureFailed(err)
      return
    }
    this.#conn.provideSignature(sig)
  }

  #startSignature(): void {
    const req = this.#conn.signRequest
    if (!req) return
    const ac = new AbortController()
    this.#signing = ac
    req.signer
      .sign(req.scheme, req.content, new SocketSignContext(this.#socket, req.serverName, ac.signal))
      .then(
        (sig) => {
          this.#signing = undefined
          if (this.destroyed) return
          this.#conn.provideSignature(sig)
          this.#pump()
        },
        (err: unknown) => {
          this.#signing = undefined
          if (this.destroyed) return
          this.#conn.signatureFailed(err)
          this.#pump()
        },
      )
  }

  #pushEnd(): void {
    if (this.#endPushed) return
    this.#endPushed = true
    this.push(null)
  }

  /** Fatal error: the alert (if any) is already written; end now, destroy soon. */
  #onFailure(): void {
    if (this.#failed) return
    this.#failed = true
    this.emit('tlsError', this.#conn.error)
    // Send FIN now but keep reading (and discarding) for a moment, so a peer
    // still sending does not get a reset before it reads our alert.
    this.#socket.end()
    setTimeout(() => {
      this.destroy()
    }, 1000).unref()
  }
}

/**
 * The SignContext of a handshake on `socket`. The addresses are looked up (a
 * getsockname/getpeername system call each, then parsed) only when the signer
 * reads them: a remote signer forwards them, a local one never asks.
 */
class SocketSignContext implements SignContext {
  readonly #socket: Socket
  readonly serverName?: string
  readonly signal: AbortSignal

  constructor(socket: Socket, serverName: string | undefined, signal: AbortSignal) {
    this.#socket = socket
    if (serverName !== undefined) this.serverName = serverName
    this.signal = signal
  }

  get clientIp(): Uint8Array | undefined {
    return ipBytes(this.#socket.remoteAddress)
  }

  get serverIp(): Uint8Array | undefined {
    return ipBytes(this.#socket.localAddress)
  }
}

/** 4 or 16 bytes for a textual IP address (for SignContext); undefined if not an IP. */
export function ipBytes(ip: string | undefined): Uint8Array | undefined {
  if (ip === undefined) return undefined
  if (ip.startsWith('::ffff:') && isIPv4(ip.slice(7))) ip = ip.slice(7)
  if (isIPv4(ip)) return new Uint8Array(ip.split('.').map(Number))
  if (!isIPv6(ip)) return undefined
  const [head = '', tail = ''] = ip.split('::') as [string?, string?]
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)))
  const h = parse(head)
  const t = ip.includes('::') ? parse(tail) : []
  const words = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t]
  const out = new Uint8Array(16)
  words.forEach((w, i) => {
    out[2 * i] = w >>> 8
    out[2 * i + 1] = w & 0xff
  })
  return out
}

/**
 * Starts TLS on an accepted socket.
 *
 * @example
 * ```ts
 * const httpServer = http.createServer(handler)
 * net.createServer((socket) => httpServer.emit('connection', accept(socket, config))).listen(8443, '127.0.0.1')
 * ```
 */
export function accept(socket: Socket, config: TlsServerConfig | ResolvedConfig): TlsConnection {
  return new TlsConnection(socket, config)
}
