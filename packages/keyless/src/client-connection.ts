/**
 * One multiplexed keyless connection, client side.
 *
 * Design. Requests are pipelined: each gets the next request ID of this
 * connection (sequential from `firstRequestId`, wrapping at 2^32) and waits in a
 * map keyed by ID until the answer with that ID arrives, in whatever order the
 * server answers. An ID is reused only after 2^32 requests; if the request that
 * held it is somehow still outstanding then, the new request fails
 * (ERR_KEYLESS_ID_IN_USE) rather than risk taking the other's answer.
 *
 * A request ends in exactly one of: its answer, its deadline
 * (ERR_KEYLESS_TIMEOUT; a late answer is then dropped), its AbortSignal, or the
 * connection failing (ERR_KEYLESS_CONNECTION for every request in flight). An
 * answer that does not decode means the peer cannot be trusted to frame
 * correctly, so the connection is failed.
 *
 * Requests sent in one turn of the event loop (e.g. by every caller woken by
 * one batch of answers) are written together, once the microtask queue has
 * drained: one write, one TLS record per 16 KiB and one syscall instead of one
 * each, which is most of the cost of a small request on both ends.
 *
 * The transport is any Duplex (a TLSSocket in production), so tests can drive it
 * over an in-memory pair.
 */
import type { Duplex } from 'node:stream'
import { Deframer } from './codec/deframer.ts'
import { decodeFrame, encodeFrame, type Operation, type Padding } from './codec/frame.ts'
import { nameOfOp } from './codec/constants.ts'
import { KeylessConnectionError, KeylessIdInUseError, KeylessTimeoutError } from './errors.ts'

interface Pending {
  resolve(op: Operation): void
  reject(e: Error): void
}

export interface ClientConnectionOptions {
  /** For error messages and events, e.g. "127.0.0.1:2407". */
  name: string
  firstRequestId?: number
  padding?: Padding
  /** Called once when the connection is gone, with the reason and whether requests were lost. */
  onClose?: (reason: Error, hadInFlight: boolean) => void
}

export interface SendOptions {
  timeoutMs: number
  signal?: AbortSignal | undefined
}

export class ClientConnection {
  readonly name: string
  readonly #socket: Duplex
  readonly #pending = new Map<number, Pending>()
  readonly #deframer = new Deframer()
  readonly #padding: Padding
  readonly #onClose: ((reason: Error, hadInFlight: boolean) => void) | undefined
  #nextId: number
  /** Encoded requests waiting for the end of this turn, and their size. */
  #out: Uint8Array[] = []
  #outBytes = 0
  #closed = false
  #closeReason: Error | undefined
  /** performance.now() of the last byte sent or received. */
  lastActivity = performance.now()

  constructor(socket: Duplex, o: ClientConnectionOptions) {
    this.name = o.name
    this.#socket = socket
    this.#nextId = (o.firstRequestId ?? 0) >>> 0
    this.#padding = o.padding ?? 'gokeyless'
    this.#onClose = o.onClose
    socket.on('data', (chunk: Uint8Array) => {
      this.#onData(chunk)
    })
    socket.on('error', (e: Error) => {
      this.#fail(
        new KeylessConnectionError(`Keyless connection to ${this.name} failed: ${e.message}`, {
          cause: e,
        }),
      )
    })
    socket.on('end', () => {
      this.#fail(
        new KeylessConnectionError(`Keyless connection to ${this.name} was closed by the server`),
      )
    })
    socket.on('close', () => {
      this.#fail(new KeylessConnectionError(`Keyless connection to ${this.name} closed`))
    })
  }

  /** Requests awaiting an answer. */
  get inFlight(): number {
    return this.#pending.size
  }

  get isOpen(): boolean {
    return !this.#closed
  }

  /** The ID the next request will use (tests set it to exercise wrapping). */
  get nextRequestId(): number {
    return this.#nextId
  }

  set nextRequestId(id: number) {
    this.#nextId = id >>> 0
  }

  /**
   * Sends `op` and resolves with the server's answer operation, whatever its
   * opcode (interpreting Error answers is the caller's job).
   */
  send(op: Operation, o: SendOptions): Promise<Operation> {
    if (this.#closed) {
      return Promise.reject(
        this.#closeReason ??
          new KeylessConnectionError(`Keyless connection to ${this.name} is closed`),
      )
    }
    if (o.signal?.aborted === true) return Promise.reject(abortReason(o.signal))
    const id = this.#nextId
    this.#nextId = (this.#nextId + 1) >>> 0
    if (this.#pending.has(id)) {
      return Promise.reject(
        new KeylessIdInUseError(
          `Cannot send ${nameOfOp(op.opcode)} to ${this.name}: request ID ${id} is still outstanding after wrapping`,
        ),
      )
    }
    let frame: Uint8Array
    try {
      frame = encodeFrame(id, op, this.#padding)
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
    return new Promise<Operation>((resolve, reject) => {
      const signal = o.signal
      const onAbort = (): void => {
        settle()
        reject(abortReason(signal))
      }
      const timer = setTimeout(() => {
        settle()
        reject(
          new KeylessTimeoutError(
            `Keyless ${nameOfOp(op.opcode)} to ${this.name} timed out after ${o.timeoutMs} ms`,
          ),
        )
      }, o.timeoutMs)
      const settle = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        this.#pending.delete(id)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(id, {
        resolve: (answer) => {
          settle()
          resolve(answer)
        },
        reject: (e) => {
          settle()
          reject(e)
        },
      })
      this.lastActivity = performance.now()
      this.#out.push(frame)
      this.#outBytes += frame.length
      if (this.#out.length === 1) {
        process.nextTick(() => {
          this.#flush()
        })
      }
    })
  }

  #flush(): void {
    const out = this.#out
    const total = this.#outBytes
    this.#out = []
    this.#outBytes = 0
    if (this.#closed || out.length === 0) return
    if (out.length === 1) {
      this.#socket.write(out[0])
      return
    }
    const bytes = Buffer.allocUnsafe(total)
    let at = 0
    for (const b of out) {
      bytes.set(b, at)
      at += b.length
    }
    this.#socket.write(bytes)
  }

  /** Closes the connection; requests in flight fail with `reason`. */
  close(reason?: Error): void {
    this.#fail(reason ?? new KeylessConnectionError(`Keyless connection to ${this.name} closed`))
  }

  #onData(chunk: Uint8Array): void {
    this.lastActivity = performance.now()
    try {
      for (const bytes of this.#deframer.push(chunk)) {
        const { id, op } = decodeFrame(bytes)
        // An unknown ID is a late answer to a request that already timed out.
        this.#pending.get(id)?.resolve(op)
      }
    } catch (e) {
      this.#fail(
        new KeylessConnectionError(
          `Keyless connection to ${this.name}: bad answer: ${(e as Error).message}`,
          {
            cause: e,
          },
        ),
      )
    }
  }

  #fail(reason: Error): void {
    if (this.#closed) return
    this.#closed = true
    this.#closeReason = reason
    this.#out = []
    this.#outBytes = 0
    const hadInFlight = this.#pending.size > 0
    for (const p of [...this.#pending.values()]) p.reject(reason)
    this.#pending.clear()
    this.#socket.destroy()
    this.#onClose?.(reason, hadInFlight)
  }
}

function abortReason(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason
  return r instanceof Error ? r : new DOMException('The operation was aborted', 'AbortError')
}
