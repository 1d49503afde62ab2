/**
 * The front door: the edge's cheapest reject path for HTTP/1.1, below node:http.
 *
 * A flood is many plain requests on keep-alive connections, and node:http spends
 * most of a 429's cost building an IncomingMessage and a ServerResponse
 * (attack-protection.md §1.3: a bare node:http server answers at about a quarter
 * of nginx's `limit_req` rate). So every HTTP/1.1 connection to a protected edge
 * is read here first:
 *
 *   bytes ─► parseRequestHead ─┬─ plain head ─► decide ─┬─ answer ─► 429/403/challenge, written here
 *                              │                        └─ pass ───► node:http (through `inner`)
 *                              ├─ incomplete ─► wait for more (bounded, headers timeout)
 *                              └─ unsupported ─► node:http from here on (the whole connection)
 *
 * node:http sees the connection through `inner`, a duplex in front of the real
 * one: the front door pushes it the requests that pass (whole heads, no bodies,
 * so it knows where each ends) and node:http's answers go straight out. While
 * node:http still owes an answer, later requests go to it too, so answers stay
 * in order (RFC 9112 §9.3.2). A flooder whose first requests passed (a burst)
 * is therefore still answered here once node:http has caught up.
 *
 * A head this parser does not take (a body, an upgrade, HTTP/1.0, anything odd)
 * ends the front door's part: every byte from there on goes to node:http
 * unread, whose parser answers malformed input (400, 431) and whose timeouts
 * then apply. Without an `inner` yet, node:http simply gets the real
 * connection. So the front door holds at most one incomplete head (≤ 16 KiB,
 * for no longer than the headers timeout) and nothing else.
 */
import { STATUS_CODES } from 'node:http'
import { Duplex } from 'node:stream'
import { INCOMPLETE, parseRequestHead, UNSUPPORTED, type RequestHead } from './http1-head.ts'

/** A request protection answered: the status, header list (name, value, ...) and body. */
export interface Answer {
  readonly status: number
  /** Flat name/value list; must include content-length. */
  readonly headers: readonly string[]
  readonly body: Uint8Array
}

/** What to do with a parsed head: answer it here, or pass it to node:http (with a token). */
export type Outcome<P> =
  | { readonly kind: 'answer'; readonly answer: Answer }
  | { readonly kind: 'handoff'; readonly pre?: P }

export interface FrontDoorOptions<P> {
  /** Decides one request (synchronously); an 'answer' must already be recorded. */
  readonly decide: (head: RequestHead) => Outcome<P>
  /**
   * Gives node:http a connection: the real one (its unread bytes unshifted) or
   * the inner duplex. Called once per connection.
   */
  readonly connect: (socket: Duplex) => void
  /** The pass decision for the next request node:http reads on `socket`. */
  readonly predecided: (socket: Duplex, pre: P) => void
  /** Keep-alive idle timeout while no answer is owed (node:http's keepAliveTimeout), ms. */
  readonly keepAliveMs: number
  /** Longest an incomplete head may wait for its end (node:http's headersTimeout), ms. */
  readonly headersTimeoutMs: number
  /** Close after this many answers given here (node:http's maxRequestsPerSocket; 0 = none). */
  readonly maxRequests: number
}

export interface FrontDoorHandle {
  /** Still reading the connection (false once node:http has all of it, or it closed). */
  readonly attached: boolean
  /** Requests answered here. */
  readonly answered: number
  /**
   * Closes the connection if it has idled past the keep-alive timeout or held
   * an incomplete head past the headers timeout; true when it is done with.
   */
  sweep(now: number): boolean
}

/** Front doors by their inner duplex, so the server can report node:http's answers. */
const byInner = new WeakMap<Duplex, { respond(res: ResponseLike): void }>()

interface ResponseLike {
  once(event: 'close', fn: () => void): unknown
}

/**
 * Tells the front door behind `socket` (if any) that node:http is answering a
 * request on it; `res` closing means that answer is complete.
 */
export function trackResponse(socket: Duplex, res: ResponseLike): void {
  byInner.get(socket)?.respond(res)
}

/** Serves `duplex` at the front door; see the module comment. */
export function frontDoor<P>(duplex: Duplex, o: FrontDoorOptions<P>): FrontDoorHandle {
  const keepAlive = `keep-alive\r\nKeep-Alive: timeout=${Math.floor(o.keepAliveMs / 1000)}\r\n\r\n`
  let attached = true
  let pipe = false
  let answered = 0
  /** Requests given to node:http whose answers are not complete yet. */
  let owed = 0
  let lastActive = performance.now()
  let carry: Buffer | undefined
  let partialSince = 0
  let inner: Inner | undefined

  const innerOf = (): Inner => {
    if (inner === undefined) {
      const i = new Inner(duplex)
      inner = i
      byInner.set(i, {
        respond(res) {
          res.once('close', () => {
            owed--
            lastActive = performance.now()
          })
        },
      })
      o.connect(i)
    }
    return inner
  }

  /** Everything from here on is node:http's. */
  const giveUp = (rest: Buffer): void => {
    if (inner === undefined) {
      detach()
      duplex.pause()
      if (rest.length > 0) duplex.unshift(rest)
      o.connect(duplex)
      duplex.resume()
    } else {
      pipe = true
      carry = undefined
      inner.feed(rest)
    }
  }

  const onData = (chunk: Buffer): void => {
    lastActive = performance.now()
    if (pipe) {
      inner?.feed(chunk)
      return
    }
    let buf = chunk
    if (carry !== undefined) {
      buf = Buffer.concat([carry, chunk])
      carry = undefined
    }
    let out: Buffer[] | undefined
    let off = 0
    let close = false
    while (off < buf.length) {
      const head = parseRequestHead(buf, off)
      if (head === INCOMPLETE) {
        carry = Buffer.from(buf.subarray(off)) // a copy: keeps no whole chunk alive
        if (partialSince === 0) partialSince = lastActive
        break
      }
      partialSince = 0
      if (head === UNSUPPORTED) {
        if (out !== undefined) write(out)
        giveUp(buf.subarray(off))
        return
      }
      if (owed === 0) {
        const d = o.decide(head)
        if (d.kind === 'answer') {
          answered++
          close = head.close || (o.maxRequests > 0 && answered >= o.maxRequests)
          let bytes: Buffer
          try {
            bytes = serialise(d.answer, head.method === 'HEAD', close ? CLOSE : keepAlive)
          } catch {
            // A field our engine should never make: node:http's checks answer it.
            answered--
            if (out !== undefined) write(out)
            giveUp(buf.subarray(off))
            return
          }
          ;(out ??= []).push(bytes)
          off = head.end
          if (close) break
          continue
        }
        // Our answers so far go out before node:http's.
        if (out !== undefined) write(out)
        out = undefined
        const i = innerOf()
        if (d.pre !== undefined) o.predecided(i, d.pre)
      }
      // A pass, or behind an answer node:http still owes: node:http's to answer.
      owed++
      innerOf().feed(buf.subarray(off, head.end))
      off = head.end
    }
    if (out !== undefined) write(out)
    if (close) {
      detach()
      duplex.end()
      inner?.feed(null)
      return
    }
    // The client is not reading its answers: stop reading its requests.
    if (duplex.writableNeedDrain) {
      duplex.pause()
      duplex.once('drain', () => {
        if (attached) duplex.resume()
      })
    }
  }

  const write = (out: Buffer[]): void => {
    duplex.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out))
  }

  const onEnd = (): void => {
    // The client finished sending: node:http finishes what it owes, then ends.
    if (inner !== undefined) inner.feed(null)
    else {
      detach()
      duplex.end()
    }
  }
  const onClose = (): void => {
    detach()
    inner?.destroy()
  }
  const detach = (): void => {
    if (!attached) return
    attached = false
    carry = undefined
    duplex.off('data', onData)
    duplex.off('end', onEnd)
    duplex.off('close', onClose)
  }
  duplex.on('data', onData)
  duplex.on('end', onEnd)
  duplex.on('close', onClose)

  return {
    get attached() {
      return attached
    },
    get answered() {
      return answered
    },
    sweep(now: number): boolean {
      if (!attached) return true
      const slowHead = partialSince !== 0 && now - partialSince >= o.headersTimeoutMs
      // With node:http in the connection, its keep-alive timer (socket timeout) applies.
      const idle = inner === undefined && owed === 0 && now - lastActive >= o.keepAliveMs
      if (!slowHead && !idle) return false
      detach()
      duplex.destroy()
      return true
    },
  }
}

/**
 * What node:http reads and writes when the front door keeps the connection:
 * the requests the front door feeds it in, node:http's answers straight out to
 * the real connection, and the socket surface node:http uses (timeouts,
 * addresses) passed through.
 */
class Inner extends Duplex {
  readonly #real: Duplex & Partial<SocketSurface>
  #starved = false

  constructor(real: Duplex) {
    super({ allowHalfOpen: true })
    this.#real = real
    real.on('timeout', () => {
      // node:http listens for 'timeout' on its socket (keep-alive and server timeouts).
      if (this.listenerCount('timeout') > 0) this.emit('timeout')
      else real.destroy()
    })
  }

  /** Bytes from the client (null: the client ended its side). */
  feed(bytes: Buffer | null): void {
    if (!this.push(bytes) && bytes !== null) {
      // node:http is not reading (it paused for a slow answer): stop reading the client.
      this.#starved = true
      this.#real.pause()
    }
  }

  override _read(): void {
    if (this.#starved) {
      this.#starved = false
      this.#real.resume()
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#real.write(chunk, cb)
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    const last = chunks.length - 1
    this.#real.cork()
    chunks.forEach((c, i) => this.#real.write(c.chunk, i === last ? cb : undefined))
    this.#real.uncork()
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.#real.end()
    cb()
  }

  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    this.#real.destroy()
    cb(e)
  }

  // The socket surface node:http and the handler use.
  get remoteAddress(): string | undefined {
    return this.#real.remoteAddress
  }
  get remotePort(): number | undefined {
    return this.#real.remotePort
  }
  get remoteFamily(): string | undefined {
    return this.#real.remoteFamily
  }
  get localAddress(): string | undefined {
    return this.#real.localAddress
  }
  get localPort(): number | undefined {
    return this.#real.localPort
  }
  get encrypted(): boolean {
    return this.#real.encrypted === true
  }
  setTimeout(ms: number, cb?: () => void): this {
    this.#real.setTimeout?.(ms)
    if (cb !== undefined) this.once('timeout', cb)
    return this
  }
  setNoDelay(noDelay?: boolean): this {
    this.#real.setNoDelay?.(noDelay)
    return this
  }
  setKeepAlive(enable?: boolean, delayMs?: number): this {
    this.#real.setKeepAlive?.(enable, delayMs)
    return this
  }
}

interface SocketSurface {
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined
  readonly remoteFamily: string | undefined
  readonly localAddress: string | undefined
  readonly localPort: number | undefined
  readonly encrypted: boolean
  setTimeout(ms: number): unknown
  setNoDelay(noDelay?: boolean): unknown
  setKeepAlive(enable?: boolean, delayMs?: number): unknown
}

const CLOSE = 'close\r\n\r\n'

/** Status line and fields of an answer, serialised once per answer object (decisions are shared). */
const heads = new WeakMap<Answer, string>()

/**
 * The bytes node:http would send for `res.writeHead(status, headers); res.end(body)`:
 * status line, fields, Date, Connection (`connection` ends the head), body.
 */
export function serialise(a: Answer, head: boolean, connection: string): Buffer {
  let h = heads.get(a)
  if (h === undefined) {
    h = `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status] ?? 'Unknown'}\r\n`
    for (let i = 0; i + 1 < a.headers.length; i += 2) {
      const name = a.headers[i] as string
      const value = a.headers[i + 1] as string
      // Answers come from our own engine; a CR or LF would split the response.
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new Error(`bad answer field ${name}`)
      h += `${name}: ${value}\r\n`
    }
    heads.set(a, h)
  }
  const text = `${h}Date: ${utcDate()}\r\nConnection: ${connection}`
  const body = head ? 0 : a.body.length
  const out = Buffer.allocUnsafe(text.length + body)
  out.write(text, 0, 'latin1')
  if (body > 0) out.set(a.body, text.length)
  return out
}

let dateText = ''
let dateSecond = -1

/** The IMF-fixdate of now, computed once a second (as node:http does). */
function utcDate(): string {
  const second = Math.floor(Date.now() / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateText = new Date(second * 1000).toUTCString()
  }
  return dateText
}
