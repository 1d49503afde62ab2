/**
 * The sans-I/O server connection: bytes in (`receive`), bytes out
 * (`takeOutput`), plaintext out (`takePlaintext`), plaintext in (`write`), and
 * one explicit pause: while the state is AwaitSignature the driver runs
 * `signRequest.signer.sign(...)` and resumes with `provideSignature()`.
 * No sockets, no timers; the Node adapter (node/connection.ts) is one driver,
 * the tests and the fuzzer are others.
 *
 * Invariants:
 * - Every error thrown by a handler ends in `#fail()`, which sends the one alert
 *   `alertFor()` picks (if any), and the connection is dead from then on
 *   (Go `setErrorLocked`): later input is ignored.
 * - Records are processed strictly in order; none is read while a signature is
 *   pending (they stay in the deframer, up to MAX_BUFFERED_WHILE_SIGNING).
 * - Handshake messages leave in as few records as fit: queued messages are
 *   flushed when the write keys change and at the end of each call, except
 *   while a signature is pending: then they wait for `takeOutput()` (a driver
 *   with an asynchronous signer sends ServerHello..Certificate at once) or for
 *   the signature (one given synchronously joins CertificateVerify and
 *   Finished in the same record).
 */
import {
  AlertDescription,
  AlertLevel,
  ContentType,
  HandshakeType,
  KeyUpdateRequest,
  nameOfCipherSuite,
  nameOfNamedGroup,
  nameOfSignatureScheme,
} from '../constants.ts'
import {
  AlertReceivedError,
  ConnectionClosedError,
  InternalError,
  PeerMisbehavedError,
  TlsError,
  alertFor,
  decodeError,
  unexpectedMessage,
} from '../errors.ts'
import type { SuiteParams } from '../crypto/suites.ts'
import {
  HandshakeJoiner,
  MAX_CLIENT_HELLO_BYTES,
  type HandshakeMessage,
} from '../messages/handshake.ts'
import { decodeKeyUpdate, encodeKeyUpdate } from '../messages/server-messages.ts'
import { MAX_PLAINTEXT_BYTES, RecordDeframer, type TlsRecord } from '../record/deframer.ts'
import {
  RecordDecrypter,
  RecordEncrypter,
  plaintextRecord,
  type RecordAllocator,
} from '../record/record-layer.ts'
import { defaultBackend } from '../crypto/native.ts'
import { resolveConfig, type ResolvedConfig, type TlsServerConfig } from './config.ts'
import {
  handleClientFinished,
  handleClientHello,
  handleSignature,
  type HandshakeIo,
} from './handshake.ts'
import type { Negotiated, ServerState, SignRequest } from './state.ts'

/** Negotiated parameters, for logs and for the application. */
export interface ConnectionInfo {
  readonly version: 'TLSv1.3'
  readonly cipherSuite: string
  readonly group: string
  /** Absent on resumed handshakes (no signature). */
  readonly signatureScheme?: string
  readonly alpnProtocol?: string
  readonly serverName?: string
  readonly resumed: boolean
  readonly helloRetry: boolean
}

/** How a driver hands buffers to a connection (node/connection.ts sets both). */
export interface ConnectionOptions {
  /**
   * The arrays passed to `receive()` become the connection's: protected records
   * may be decrypted where they lie (native backend), and the plaintext handed
   * out is then a view of them. Leave unset if the caller reuses what it passes.
   */
  readonly ownsInput?: boolean
  /**
   * Allocates the arrays records are sealed into. Every byte of what it returns
   * is overwritten, so it may return uninitialised memory (`Buffer.allocUnsafe`).
   */
  readonly allocate?: RecordAllocator
}

/** Records that carry nothing (empty application data, KeyUpdate, user_canceled) allowed in a row (Go `maxUselessRecords`). */
const MAX_USELESS_RECORDS = 64
/** Bytes of 0-RTT data we are willing to trial-decrypt and drop (RFC 8446 §4.2.10). */
const MAX_EARLY_DATA_SKIP_BYTES = 1 << 16
/** Input buffered while a signature is pending. */
const MAX_BUFFERED_WHILE_SIGNING = 1 << 16
/** Send our own KeyUpdate well before the per-key record limit. */
const AUTO_KEY_UPDATE_RECORDS = 2 ** 23
const DECODER = new TextDecoder()
/** Application data records smaller than this are sealed into a single buffer. */
const SEAL_IN_ONE_BUFFER_BELOW = 4096

export class ServerConnection {
  readonly #config: ResolvedConfig
  #state: ServerState = { kind: 'ExpectClientHello' }
  readonly #deframer = new RecordDeframer()
  readonly #joiner: HandshakeJoiner
  #reader: RecordDecrypter | undefined
  #writer: RecordEncrypter | undefined
  #out: Uint8Array[] = []
  #plaintext: Uint8Array[] = []
  #pendingHandshake: Uint8Array[] = []
  #ccsSent = false
  #ccsReceived = false
  #sawClientHello = false
  #skipEarlyData = false
  #skipPlainAppData = false
  #earlyDataBudget = MAX_EARLY_DATA_SKIP_BYTES
  #allowPlainAlerts = true
  #uselessRecords = 0
  #error: unknown = undefined
  #peerClosed = false
  #closeSent = false
  #negotiated: Negotiated | undefined
  #info: { negotiated: Negotiated; info: ConnectionInfo } | undefined
  #handshakeComplete = false
  readonly #io: HandshakeIo
  readonly #ownsInput: boolean
  readonly #allocate: RecordAllocator | undefined

  constructor(config: TlsServerConfig | ResolvedConfig, options: ConnectionOptions = {}) {
    this.#config = 'cookieKey' in config ? config : resolveConfig(config)
    this.#ownsInput = options.ownsInput === true
    this.#allocate = options.allocate
    this.#joiner = new HandshakeJoiner((type) => this.#limitFor(type))
    this.#io = {
      config: this.#config,
      sendHandshake: (m) => this.#pendingHandshake.push(m),
      sendCompatibilityCcs: () => {
        if (this.#ccsSent) return
        this.#ccsSent = true
        this.#flushHandshake()
        this.#out.push(plaintextRecord(ContentType.ChangeCipherSpec, new Uint8Array([1])))
      },
      setWriteKeys: (suite, secret) => {
        // Records queued under the old keys are sealed before the switch.
        this.#flushHandshake()
        if (this.#writer !== undefined) this.#writer.rekey(suite, secret)
        else this.#writer = new RecordEncrypter(suite, secret, defaultBackend, this.#allocate)
      },
      setReadKeys: (suite, secret, skipEarlyData = false) => {
        this.#setReadKeys(suite, secret, skipEarlyData)
      },
      requireRecordBoundary: () => {
        if (this.#joiner.hasPartial) {
          throw unexpectedMessage('Cannot change keys: handshake data is pending in the record')
        }
      },
      skipEarlyDataUntilClientHello2: () => {
        this.#skipPlainAppData = true
      },
    }
  }

  // --- driver API -----------------------------------------------------------

  /** Feeds bytes from the transport. Never throws: failures become an alert in the output. */
  receive(data: Uint8Array): void {
    if (this.#error !== undefined || this.#peerClosed) return
    this.#deframer.push(data)
    this.#run()
  }

  /** Bytes to send to the peer, in order; the queue is emptied. */
  takeOutput(): Uint8Array[] {
    if (this.#error === undefined) this.#flushHandshake()
    const out = this.#out
    this.#out = []
    return out
  }

  /** Application data received, in order; the queue is emptied. */
  takePlaintext(): Uint8Array[] {
    const p = this.#plaintext
    this.#plaintext = []
    return p
  }

  /** The signature the handshake waits for, if any. */
  get signRequest(): SignRequest | undefined {
    return this.#state.kind === 'AwaitSignature' ? this.#state.request : undefined
  }

  /** Resumes the handshake with the signer's result. Ignored if the connection failed meanwhile. */
  provideSignature(signature: Uint8Array): void {
    const s = this.#state
    if (s.kind !== 'AwaitSignature' || this.#error !== undefined) return
    try {
      this.#state = handleSignature(s, signature, this.#io)
    } catch (e) {
      this.#fail(e)
      return
    }
    this.#run()
  }

  /** The signer failed: internal_error. */
  signatureFailed(cause: unknown): void {
    if (this.#state.kind !== 'AwaitSignature' || this.#error !== undefined) return
    this.#fail(new InternalError('Cannot complete handshake: signer failed', { cause }))
  }

  /** Encrypts application data (RFC 8446 §5.1: records of at most 2^14 bytes). */
  write(data: Uint8Array): void {
    const writer = this.#applicationWriter()
    for (let at = 0; at < data.length; at += MAX_PLAINTEXT_BYTES) {
      const chunk = data.subarray(at, Math.min(data.length, at + MAX_PLAINTEXT_BYTES))
      const pad = this.#padFor(chunk.length)
      // A small record is sealed into one buffer (one AEAD update, one piece to
      // write); a large one as pieces, so its plaintext is not copied first.
      if (chunk.length < SEAL_IN_ONE_BUFFER_BELOW) {
        this.#out.push(writer.encrypt(ContentType.ApplicationData, chunk, pad))
      } else {
        writer.encryptParts(ContentType.ApplicationData, chunk, pad, this.#out)
      }
      this.#updateKeysWhenDue(writer)
    }
  }

  /**
   * Encrypts several pieces of application data in order, as `write()` of their
   * concatenation would: pieces of at most 2^14 bytes in all (an HTTP response's
   * header and body) are sealed into one record without joining them first.
   */
  writeAll(pieces: readonly Uint8Array[]): void {
    let total = 0
    for (const p of pieces) total += p.length
    if (pieces.length < 2 || total > MAX_PLAINTEXT_BYTES) {
      for (const p of pieces) this.write(p)
      return
    }
    const writer = this.#applicationWriter()
    this.#out.push(writer.encrypt(ContentType.ApplicationData, pieces, this.#padFor(total)))
    this.#updateKeysWhenDue(writer)
  }

  /** The write keys for application data; throws when the connection cannot send any. */
  #applicationWriter(): RecordEncrypter {
    if (this.#error !== undefined || this.#closeSent) {
      throw new ConnectionClosedError('Cannot write: connection is closed')
    }
    if (this.#state.kind !== 'Traffic' || !this.#writer) {
      throw new InternalError('Cannot write: handshake is not complete')
    }
    return this.#writer
  }

  /** KeyUpdate once the write key has sealed AUTO_KEY_UPDATE_RECORDS records (it stays the same object). */
  #updateKeysWhenDue(writer: RecordEncrypter): void {
    if (writer.seq >= AUTO_KEY_UPDATE_RECORDS)
      this.#sendKeyUpdate(KeyUpdateRequest.update_not_requested)
  }

  /** Sends KeyUpdate(update_requested) and switches our write keys (RFC 8446 §4.6.3). */
  requestKeyUpdate(): void {
    if (this.#state.kind !== 'Traffic' || this.#error !== undefined || this.#closeSent) {
      throw new InternalError('Cannot update keys: connection is not in the traffic state')
    }
    this.#sendKeyUpdate(KeyUpdateRequest.update_requested)
  }

  /** Sends close_notify (RFC 8446 §6.1); no writes afterwards. */
  close(): void {
    if (this.#closeSent || this.#error !== undefined) return
    this.#closeSent = true
    this.#flushHandshake()
    this.#sendAlert(AlertLevel.Warning, AlertDescription.CloseNotify)
  }

  /** Aborts locally (timeout, socket gone): no alert, state closed, secrets dropped. */
  abort(reason: TlsError): void {
    if (this.#error !== undefined) return
    this.#error = reason
    this.#teardown()
  }

  /** True once the client's Finished verified (stays true after close). */
  get isHandshakeComplete(): boolean {
    return this.#handshakeComplete
  }

  /** True once the peer sent close_notify. */
  get isPeerClosed(): boolean {
    return this.#peerClosed
  }

  /** The fatal error, once the connection has failed. */
  get error(): unknown {
    return this.#error
  }

  get stateKind(): ServerState['kind'] {
    return this.#state.kind
  }

  /** Negotiated parameters (fixed once the ServerHello is decided, so built once). */
  getInfo(): ConnectionInfo | undefined {
    const n = this.#negotiated
    if (!n) return undefined
    if (this.#info?.negotiated === n) return this.#info.info
    const info: ConnectionInfo = {
      version: 'TLSv1.3',
      cipherSuite: nameOfCipherSuite(n.suite.id),
      group: nameOfNamedGroup(n.group),
      ...(n.scheme !== undefined ? { signatureScheme: nameOfSignatureScheme(n.scheme) } : {}),
      ...(n.alpn !== undefined ? { alpnProtocol: DECODER.decode(n.alpn) } : {}),
      ...(n.serverName !== undefined ? { serverName: n.serverName } : {}),
      resumed: n.resumed,
      helloRetry: n.helloRetry,
    }
    this.#info = { negotiated: n, info }
    return info
  }

  // --- record layer -----------------------------------------------------------

  #run(): void {
    try {
      for (;;) {
        if (this.#error !== undefined || this.#peerClosed) break
        if (this.#state.kind === 'AwaitSignature') {
          if (this.#deframer.buffered > MAX_BUFFERED_WHILE_SIGNING) {
            throw unexpectedMessage(
              'Cannot buffer input: too much data while the handshake is paused',
            )
          }
          break
        }
        const rec = this.#deframer.next()
        if (!rec) break
        this.#handleRecord(rec)
      }
      if (this.#state.kind !== 'AwaitSignature') this.#flushHandshake()
    } catch (e) {
      this.#fail(e)
    }
  }

  #handleRecord(rec: TlsRecord): void {
    // RFC 8446 §5.1: a handshake message split over records must not have other
    // record types between its pieces.
    if (
      this.#joiner.hasPartial &&
      rec.type !== ContentType.Handshake &&
      rec.type !== ContentType.ApplicationData
    ) {
      throw unexpectedMessage(
        'Cannot accept record: interleaved with a fragmented handshake message',
      )
    }
    switch (rec.type) {
      case ContentType.ChangeCipherSpec:
        this.#handleCcs(rec.fragment)
        return
      case ContentType.ApplicationData:
        this.#handleProtected(rec)
        return
      case ContentType.Handshake:
        if (this.#reader)
          throw unexpectedMessage('Cannot accept record: plaintext handshake after keys changed')
        this.#checkPlaintextLength(rec.fragment, 'handshake')
        this.#handleHandshakeFragment(rec.fragment)
        return
      case ContentType.Alert:
        // Before the client has our ServerHello it may still alert in plaintext.
        if (this.#reader && !this.#allowPlainAlerts) {
          throw unexpectedMessage('Cannot accept record: plaintext alert after keys changed')
        }
        this.#checkPlaintextLength(rec.fragment, 'alert')
        this.#handleAlert(rec.fragment)
        return
      default:
        throw unexpectedMessage(`Cannot accept record: unknown content type ${rec.type}`)
    }
  }

  #checkPlaintextLength(fragment: Uint8Array, what: string): void {
    if (fragment.length > MAX_PLAINTEXT_BYTES) {
      throw new PeerMisbehavedError(
        AlertDescription.RecordOverflow,
        `Cannot accept ${what} record: ${fragment.length} bytes exceed ${MAX_PLAINTEXT_BYTES}`,
      )
    }
    // RFC 8446 §5.1: no zero-length handshake or alert fragments.
    if (fragment.length === 0) throw unexpectedMessage(`Cannot accept ${what} record: empty`)
  }

  /**
   * RFC 8446 §5: one change_cipher_spec of value 0x01 may arrive after the first
   * ClientHello and before the client's Finished; it is dropped. Any other is
   * unexpected_message.
   */
  #handleCcs(fragment: Uint8Array): void {
    const k = this.#state.kind
    const inWindow = this.#sawClientHello && (k === 'ExpectClientHello2' || k === 'ExpectFinished')
    if (!inWindow || this.#ccsReceived || fragment.length !== 1 || fragment[0] !== 1) {
      throw unexpectedMessage('Cannot accept change_cipher_spec here')
    }
    this.#ccsReceived = true
  }

  #handleProtected(rec: TlsRecord): void {
    const reader = this.#reader
    if (!reader) {
      // RFC 8446 §4.2.10: after a HelloRetryRequest, 0-RTT records are skipped.
      if (this.#skipPlainAppData && this.#spendEarlyData(rec.fragment.length)) return
      throw unexpectedMessage('Cannot accept application_data before keys are established')
    }
    let inner: { type: number; content: Uint8Array }
    try {
      // In place when nobody else holds the bytes: no output array per record.
      inner = reader.decrypt(rec.header, rec.fragment, rec.copied || this.#ownsInput)
    } catch (e) {
      // RFC 8446 §4.2.10: 0-RTT we refused is encrypted under keys we do not
      // have; trial-decrypt with the handshake keys and drop what fails.
      if (
        this.#skipEarlyData &&
        e instanceof PeerMisbehavedError &&
        e.alert === AlertDescription.BadRecordMac &&
        this.#spendEarlyData(rec.fragment.length)
      ) {
        reader.undoSeq()
        return
      }
      throw e
    }
    this.#skipEarlyData = false
    this.#allowPlainAlerts = false
    if (this.#joiner.hasPartial && inner.type !== ContentType.Handshake) {
      throw unexpectedMessage(
        'Cannot accept record: interleaved with a fragmented handshake message',
      )
    }
    switch (inner.type) {
      case ContentType.Handshake:
        if (inner.content.length === 0)
          throw unexpectedMessage('Cannot accept record: empty handshake')
        this.#handleHandshakeFragment(inner.content)
        return
      case ContentType.Alert:
        // RFC 8446 §5.4: no zero-length alert content.
        if (inner.content.length === 0) throw unexpectedMessage('Cannot accept record: empty alert')
        this.#handleAlert(inner.content)
        return
      case ContentType.ApplicationData:
        if (this.#state.kind !== 'Traffic') {
          throw unexpectedMessage('Cannot accept application data before the handshake completes')
        }
        if (inner.content.length === 0) {
          this.#useless()
          return
        }
        this.#uselessRecords = 0
        this.#plaintext.push(inner.content)
        return
      default:
        throw unexpectedMessage(`Cannot accept protected record of inner type ${inner.type}`)
    }
  }

  #spendEarlyData(n: number): boolean {
    if (n > this.#earlyDataBudget) return false
    this.#earlyDataBudget -= n
    return true
  }

  #useless(): void {
    if (++this.#uselessRecords > MAX_USELESS_RECORDS) {
      throw unexpectedMessage('Cannot continue: too many records without data')
    }
  }

  /** RFC 8446 §6: every alert but close_notify and user_canceled ends the connection. */
  #handleAlert(fragment: Uint8Array): void {
    if (fragment.length !== 2) throw decodeError(`Cannot decode alert: ${fragment.length} bytes`)
    const level = fragment[0] as number
    const desc = fragment[1] as number
    if (level !== AlertLevel.Warning && level !== AlertLevel.Fatal) {
      throw new PeerMisbehavedError(
        AlertDescription.IllegalParameter,
        `Cannot decode alert: level ${level}`,
      )
    }
    if (desc === AlertDescription.CloseNotify) {
      if (this.#state.kind !== 'Traffic') throw new AlertReceivedError(desc)
      // RFC 8446 §6.1: data after close_notify is ignored.
      this.#peerClosed = true
      this.#deframer.clear()
      return
    }
    if (desc === AlertDescription.UserCanceled && level === AlertLevel.Warning) {
      this.#useless()
      return
    }
    throw new AlertReceivedError(desc)
  }

  // --- handshake messages -------------------------------------------------------

  /** Per-type size limits, checked on the header (RFC 8446 §4.4.4, §4.6.3). */
  #limitFor(type: number): number {
    switch (type) {
      case HandshakeType.ClientHello:
        return MAX_CLIENT_HELLO_BYTES
      case HandshakeType.Finished:
        return 64
      case HandshakeType.KeyUpdate:
        return 1
      default:
        throw unexpectedMessage(`Cannot accept handshake message type ${type} from a client`)
    }
  }

  #handleHandshakeFragment(fragment: Uint8Array): void {
    this.#joiner.push(fragment)
    for (;;) {
      const msg = this.#joiner.next()
      if (!msg) return
      this.#handleMessage(msg)
      if (this.#state.kind === 'AwaitSignature' && this.#joiner.hasPartial) {
        throw unexpectedMessage('Cannot accept data after ClientHello in the same record')
      }
    }
  }

  #handleMessage(msg: HandshakeMessage): void {
    const s = this.#state
    switch (s.kind) {
      case 'ExpectClientHello':
      case 'ExpectClientHello2': {
        this.#sawClientHello = true
        const next = handleClientHello(s, msg, this.#io)
        if ('negotiated' in next) this.#negotiated = next.negotiated
        this.#state = next
        return
      }
      case 'ExpectFinished':
        this.#state = handleClientFinished(s, msg, this.#io)
        this.#handshakeComplete = true
        return
      case 'Traffic':
        this.#handlePostHandshake(msg)
        return
      case 'AwaitSignature':
      case 'Closed':
        throw unexpectedMessage(`Cannot accept handshake message ${msg.type} in state ${s.kind}`)
      default: {
        const never: never = s
        throw new InternalError(`Unknown state ${String(never)}`)
      }
    }
  }

  /** RFC 8446 §4.6.3: KeyUpdate is the only post-handshake message a client sends us. */
  #handlePostHandshake(msg: HandshakeMessage): void {
    if (msg.type !== HandshakeType.KeyUpdate) {
      throw unexpectedMessage(`Cannot accept post-handshake message ${msg.type}`)
    }
    const request = decodeKeyUpdate(msg.body)
    this.#io.requireRecordBoundary()
    this.#useless()
    this.#reader?.update()
    // Answer at once, before any further application data (tlsfuzzer expects it).
    if (request === KeyUpdateRequest.update_requested && !this.#closeSent) {
      this.#sendKeyUpdate(KeyUpdateRequest.update_not_requested)
    }
  }

  #sendKeyUpdate(request: 0 | 1): void {
    const w = this.#writer
    if (!w) throw new InternalError('Cannot update keys: no write keys')
    this.#flushHandshake()
    this.#out.push(w.encrypt(ContentType.Handshake, encodeKeyUpdate(request)))
    w.update()
  }

  #setReadKeys(suite: SuiteParams, secret: Uint8Array, skipEarlyData: boolean): void {
    if (this.#reader !== undefined) this.#reader.rekey(suite, secret)
    else this.#reader = new RecordDecrypter(suite, secret)
    this.#skipEarlyData = skipEarlyData
    this.#skipPlainAppData = false
  }

  // --- output -------------------------------------------------------------------

  #padFor(contentLength: number): number {
    const p = this.#config.recordPadding
    if (p === 'none') return 0
    const inner = contentLength + 1
    const target = Math.min(Math.ceil(inner / p.blockBytes) * p.blockBytes, MAX_PLAINTEXT_BYTES + 1)
    return Math.max(0, target - inner)
  }

  /** Packs queued handshake messages into as few records as fit. */
  #flushHandshake(): void {
    const msgs = this.#pendingHandshake
    if (msgs.length === 0) return
    this.#pendingHandshake = []
    let total = 0
    for (const m of msgs) total += m.length
    if (total <= MAX_PLAINTEXT_BYTES) {
      // One record (the usual case): the messages are copied once, into it.
      this.#out.push(
        this.#writer
          ? this.#writer.encrypt(ContentType.Handshake, msgs, this.#padFor(total))
          : plaintextRecord(ContentType.Handshake, msgs, this.#allocate),
      )
      return
    }
    const all = new Uint8Array(total)
    let at = 0
    for (const m of msgs) {
      all.set(m, at)
      at += m.length
    }
    for (let i = 0; i < total; i += MAX_PLAINTEXT_BYTES) {
      const frag = all.subarray(i, Math.min(total, i + MAX_PLAINTEXT_BYTES))
      this.#out.push(
        this.#writer
          ? this.#writer.encrypt(ContentType.Handshake, frag, this.#padFor(frag.length))
          : plaintextRecord(ContentType.Handshake, frag, this.#allocate),
      )
    }
  }

  #sendAlert(level: AlertLevel, desc: AlertDescription): void {
    const body = new Uint8Array([level, desc])
    this.#out.push(
      this.#writer
        ? this.#writer.encrypt(ContentType.Alert, body)
        : plaintextRecord(ContentType.Alert, body),
    )
  }

  #fail(err: unknown): void {
    if (this.#error !== undefined) return
    this.#error = err
    const alert = alertFor(err)
    if (alert !== undefined && !this.#closeSent) {
      try {
        this.#flushHandshake()
        this.#sendAlert(AlertLevel.Fatal, alert)
      } catch {
        // Nothing more we can say.
      }
    }
    this.#teardown()
  }

  #teardown(): void {
    this.#state = { kind: 'Closed', negotiated: this.#negotiated }
    this.#deframer.clear()
    this.#pendingHandshake = []
    this.#reader?.drop()
    this.#writer?.drop()
  }
}
