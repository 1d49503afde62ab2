/**
 * The server side of one keyless connection: deframing, request-ID multiplexing,
 * ping, and dispatch to an application handler.
 *
 * Design. Every frame carries a client-chosen request ID, and the server's only
 * duty towards IDs is to echo them: it never checks them for uniqueness. Each
 * request other than a ping runs as its own promise, and its answer is written
 * the moment it settles, so a slow RSA signature never holds up a fast ECDSA one
 * behind it (answers leave out of order; clients match them by ID). Two limits
 * keep one peer from exhausting the process:
 *
 *  - in-flight work: at most `maxInFlight` handler calls per connection. A
 *    request beyond that is answered at once with ErrorCode.Busy rather than
 *    queued, so the client can fail over instead of waiting.
 *  - buffered output: answers are collected and written together once per
 *    turn of the event loop (in its check phase, setImmediate), whether a
 *    synchronous handler gave them while a chunk was parsed or they settled
 *    later. One socket read of TLS usually yields several 'data' events (one
 *    per TLS record, 16 KiB), and every connection read in the same poll
 *    phase is answered in that turn, so many answers share one write: one
 *    SSL_write, one syscall, one wake-up of the peer, instead of one per
 *    record. When the socket's write buffer passes `highWaterMarkBytes`
 *    (a peer that sends but does not read), reading stops until it drains, so
 *    pipelined requests cannot grow the output buffer without bound. The
 *    deframer holds at most one partial frame (≤ 8 + 65535 bytes).
 *
 * Malformed input: a frame whose header arrived but whose body does not parse is
 * answered with ErrorCode.Format under its ID (the stream is still in sync,
 * because Length delimits the frame), and the connection stays open. A header
 * that announces more than `maxBodyBytes`, or a stream that ends inside a frame,
 * cannot be answered; the connection is closed and an event reported.
 *
 * Version: a major version other than 1 is answered like any request, with a
 * 1.0 reply (what the Go server does), not with VersionMismatch (what the C
 * server does): the minor and major bytes have never been used to change the
 * format, and answering keeps the peer's request ID and error handling intact.
 */
import type { Duplex } from 'node:stream'
import { ErrorCode, Op, isResponseOp, nameOfOp } from './codec/constants.ts'
import { Deframer } from './codec/deframer.ts'
import {
  MAX_BODY_BYTES,
  PROTOCOL_MAJOR,
  decodeOperationAt,
  encodeFrameInto,
  type Operation,
  type Padding,
} from './codec/frame.ts'
import { KeylessFormatError } from './errors.ts'

/** Who is on the other end, as established by the transport (mTLS). */
export interface PeerInfo {
  remoteAddress: string
  nodeId?: string
  region?: string
  country?: string
}

/**
 * Answers one request. Returns an Op.Response or Op.Error operation, or a
 * promise of one (a handler that can answer at once should return the answer
 * itself: it then leaves in the same write as the other answers of its read).
 * A throw or rejection is answered with ErrorCode.Internal (and reported).
 * `signal` aborts when the connection closes. Unknown opcodes reach the
 * handler, which should answer ErrorCode.BadOpcode.
 */
export type OperationHandler = (
  op: Operation,
  peer: PeerInfo,
  signal: AbortSignal,
) => Operation | Promise<Operation>

/**
 * What `onEvent` reports. `kind` is one of: 'format-error' (answered with
 * Format), 'frame-error' (unanswerable framing, connection closed), 'truncated'
 * (stream ended inside a frame), 'version' (major ≠ 1, answered anyway),
 * 'unexpected-opcode', 'busy', 'handler-error', 'idle-timeout', 'socket-error',
 * 'paused', 'resumed', 'closed'.
 */
export interface ServeEvent {
  kind: string
  detail?: string
}

export interface ServeOptions {
  peer: PeerInfo
  /** Handler calls allowed in flight on this connection (default 1024). */
  maxInFlight?: number
  /** Close the connection after this long with no input and no work in flight (default 30000). */
  idleTimeoutMs?: number
  onEvent?: (e: ServeEvent) => void
  /** Largest request body accepted (default 65535). */
  maxBodyBytes?: number
  /** Stop reading while more than this many bytes wait to be written (default 1 MiB). */
  highWaterMarkBytes?: number
  /** Padding of answers (default 'gokeyless'). */
  padding?: Padding
  /**
   * Hand the handler byte items (payload, SKI, …) as views of the received
   * data instead of copies (default false). The received chunks are never
   * changed; a handler that passes an item on whole (postMessage) must copy it.
   */
  itemViews?: boolean
}

export const DEFAULT_MAX_IN_FLIGHT = 1024
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000
const DEFAULT_HIGH_WATER_MARK = 1 << 20
// After an idle close, wait this long for the peer's FIN before destroying.
const CLOSE_GRACE_MS = 5_000

/**
 * An Op.Error answer carrying `code`.
 *
 * @example
 * ```ts
 * return errorResponse(ErrorCode.KeyNotFound)
 * ```
 */
export function errorResponse(code: number): Operation {
  return { opcode: Op.Error, payload: Uint8Array.of(code) }
}

/**
 * Serves keyless requests arriving on `socket` (usually a TLSSocket after the
 * mTLS handshake) until it closes. Never throws; problems go to `onEvent`.
 *
 * @example
 * ```ts
 * tls.createServer(opts, (socket) => {
 *   serveConnection(socket, handler, { peer: { remoteAddress: socket.remoteAddress ?? '' } })
 * })
 * ```
 */
export function serveConnection(
  socket: Duplex,
  handler: OperationHandler,
  options: ServeOptions,
): void {
  new ServerConnection(socket, handler, options)
}

// Answers of one turn are encoded straight into one buffer per connection,
// sized from the previous turn's output (within these bounds).
const MIN_OUT_BYTES = 4 * 1024
const MAX_OUT_HINT_BYTES = 256 * 1024

/** Connections with answers to write at the end of this turn. */
let toFlush: ServerConnection[] = []

class ServerConnection {
  readonly #socket: Duplex
  readonly #handler: OperationHandler
  readonly #peer: PeerInfo
  readonly #maxInFlight: number
  readonly #highWaterMark: number
  readonly #padding: Padding
  readonly #decodeOptions: { views: boolean }
  readonly #onEvent: (e: ServeEvent) => void
  readonly #deframer: Deframer
  readonly #abort = new AbortController()
  readonly #idleTimer: NodeJS.Timeout
  #inFlight = 0
  /** Encoded answers not yet written, and their total size. */
  /** This turn's encoded answers: #outBytes bytes of #out. */
  #out: Buffer | undefined
  #outBytes = 0
  /** Size for the next turn's #out. */
  #outHint = MIN_OUT_BYTES
  /** This connection is in `toFlush`. */
  #flushScheduled = false
  #peerEnded = false
  #paused = false
  #closed = false

  constructor(socket: Duplex, handler: OperationHandler, o: ServeOptions) {
    this.#socket = socket
    this.#handler = handler
    this.#peer = o.peer
    this.#maxInFlight = o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
    this.#highWaterMark = o.highWaterMarkBytes ?? DEFAULT_HIGH_WATER_MARK
    this.#padding = o.padding ?? 'gokeyless'
    this.#decodeOptions = { views: o.itemViews === true }
    const onEvent = o.onEvent
    this.#onEvent = (e) => {
      try {
        onEvent?.(e)
      } catch {
        // A faulty logger must not take the connection down.
      }
    }
    this.#deframer = new Deframer({ maxBodyBytes: o.maxBodyBytes ?? MAX_BODY_BYTES })
    this.#idleTimer = setTimeout(() => {
      this.#onIdle()
    }, o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS)
    this.#idleTimer.unref()

    socket.on('data', (chunk: Uint8Array) => {
      this.#onData(chunk)
    })
    socket.on('end', () => {
      if (this.#deframer.pendingBytes > 0) {
        this.#onEvent({
          kind: 'truncated',
          detail: `stream ended inside a frame (${this.#deframer.pendingBytes} bytes held)`,
        })
      }
      // The peer sends no more; finish the answers in flight, then close our side.
      this.#peerEnded = true
      if (this.#inFlight === 0) {
        this.#flush()
        socket.end()
      }
    })
    socket.on('drain', () => {
      this.#maybeResume()
    })
    socket.on('error', (e: Error) => {
      this.#onEvent({ kind: 'socket-error', detail: e.message })
      socket.destroy()
    })
    socket.on('close', () => {
      this.#closed = true
      clearTimeout(this.#idleTimer)
      this.#abort.abort(new Error('keyless connection closed'))
      this.#onEvent({ kind: 'closed' })
    })
  }

  #onData(chunk: Uint8Array): void {
    this.#idleTimer.refresh()
    try {
      this.#deframer.pushEach(chunk, this.#onFrame)
    } catch (e) {
      if (!(e instanceof KeylessFormatError)) throw e
      // The header cannot be trusted to delimit a frame: nothing can be answered.
      this.#onEvent({ kind: 'frame-error', detail: e.message })
      this.#socket.destroy()
    }
  }

  /** One whole frame, bytes[start..end) (a view of the chunk would cost an object per request). */
  readonly #onFrame = (bytes: Uint8Array, start: number, end: number): void => {
    if (this.#closed) return
    // The deframer hands out whole frames, so the 8-byte header is there.
    const major = bytes[start] as number
    const id =
      (((bytes[start + 4] as number) << 24) |
        ((bytes[start + 5] as number) << 16) |
        ((bytes[start + 6] as number) << 8) |
        (bytes[start + 7] as number)) >>>
      0
    let op: Operation
    try {
      op = decodeOperationAt(bytes, start, end, this.#decodeOptions)
    } catch (e) {
      if (!(e instanceof KeylessFormatError)) throw e
      this.#onEvent({ kind: 'format-error', detail: `request ${id}: ${e.message}` })
      this.#respond(id, errorResponse(ErrorCode.Format))
      return
    }
    if (major !== PROTOCOL_MAJOR) {
      this.#onEvent({ kind: 'version', detail: `request ${id} has major version ${major}` })
    }
    if (op.opcode === Op.Ping) {
      // Echo the payload if there was one; a payload-less ping is valid (the Go
      // health checker sends those), so it never gets Format.
      this.#respond(
        id,
        op.payload === undefined ? { opcode: Op.Pong } : { opcode: Op.Pong, payload: op.payload },
      )
      return
    }
    if (isResponseOp(op.opcode)) {
      this.#onEvent({ kind: 'unexpected-opcode', detail: `request ${id}: ${nameOfOp(op.opcode)}` })
      this.#respond(id, errorResponse(ErrorCode.UnexpectedOpcode))
      return
    }
    if (this.#inFlight >= this.#maxInFlight) {
      this.#onEvent({ kind: 'busy', detail: `request ${id}: ${this.#inFlight} in flight` })
      this.#respond(id, errorResponse(ErrorCode.Busy))
      return
    }
    this.#dispatch(id, op)
  }

  #dispatch(id: number, op: Operation): void {
    let answer: Operation | Promise<Operation>
    try {
      answer = this.#handler(op, this.#peer, this.#abort.signal)
    } catch (e) {
      this.#handlerError(id, op, e)
      return
    }
    if (!(answer instanceof Promise)) {
      // Answered at once: no work stays in flight.
      this.#respond(id, answer)
      return
    }
    this.#inFlight++
    answer
      .then(
        (res) => {
          this.#respond(id, res)
        },
        (e: unknown) => {
          this.#handlerError(id, op, e)
        },
      )
      .finally(() => {
        this.#inFlight--
        if (this.#closed) return
        this.#idleTimer.refresh()
        if (this.#peerEnded && this.#inFlight === 0) {
          this.#flush()
          this.#socket.end()
        }
      })
      .catch(() => undefined)
  }

  #handlerError(id: number, op: Operation, e: unknown): void {
    this.#onEvent({
      kind: 'handler-error',
      detail: `request ${id} (${nameOfOp(op.opcode)}): ${e instanceof Error ? e.message : String(e)}`,
    })
    this.#respond(id, errorResponse(ErrorCode.Internal))
  }

  /** Encodes an answer and queues it for the write at the end of this turn of the event loop. */
  #respond(id: number, op: Operation): void {
    if (this.#closed || !this.#socket.writable) return
    try {
      this.#encode(id, op)
    } catch (e) {
      this.#onEvent({ kind: 'handler-error', detail: `request ${id}: ${(e as Error).message}` })
      this.#encode(id, errorResponse(ErrorCode.Internal))
    }
    if (this.#flushScheduled) return
    // Written in the check phase, after every read of this poll phase has
    // been parsed and answered (TLS hands over one record per 'data' event),
    // by one setImmediate for all connections.
    this.#flushScheduled = true
    toFlush.push(this)
    if (toFlush.length === 1) setImmediate(ServerConnection.#flushAll)
  }

  static readonly #flushAll = (): void => {
    const all = toFlush
    toFlush = []
    for (const c of all) {
      c.#flushScheduled = false
      c.#flush()
    }
  }

  /** Appends one encoded answer to #out (which grows when it must); throws as encodeFrame does. */
  #encode(id: number, op: Operation): void {
    let out = (this.#out ??= Buffer.allocUnsafe(this.#outHint))
    let end = encodeFrameInto(out, this.#outBytes, id, op, this.#padding)
    if (end < 0) {
      const grown = Buffer.allocUnsafe(Math.max(2 * out.length, this.#outBytes - end))
      out.copy(grown, 0, 0, this.#outBytes)
      this.#out = out = grown
      end = encodeFrameInto(out, this.#outBytes, id, op, this.#padding)
    }
    this.#outBytes = end
  }

  /** Writes every queued answer in one write (one SSL_write, one syscall). */
  #flush(): void {
    const out = this.#out
    const n = this.#outBytes
    if (out === undefined || n === 0) return
    // A new buffer per turn: a write the socket queues keeps a reference.
    this.#out = undefined
    this.#outBytes = 0
    this.#outHint = Math.min(MAX_OUT_HINT_BYTES, Math.max(MIN_OUT_BYTES, n + (n >>> 2)))
    if (this.#closed || !this.#socket.writable) return
    const ok = this.#socket.write(n === out.length ? out : out.subarray(0, n))
    if ((!ok || this.#socket.writableLength > this.#highWaterMark) && !this.#paused) {
      this.#paused = true
      this.#socket.pause()
      this.#onEvent({
        kind: 'paused',
        detail: `${this.#socket.writableLength} bytes waiting to be written`,
      })
    }
  }

  #maybeResume(): void {
    if (!this.#paused || this.#closed) return
    if (this.#socket.writableLength > this.#highWaterMark) return
    this.#paused = false
    this.#socket.resume()
    this.#onEvent({ kind: 'resumed' })
  }

  #onIdle(): void {
    if (this.#closed) return
    if (this.#inFlight > 0) {
      this.#idleTimer.refresh()
      return
    }
    this.#onEvent({ kind: 'idle-timeout' })
    this.#socket.end()
    setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref()
  }
}
