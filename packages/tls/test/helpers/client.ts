/**
 * A minimal TLS 1.3 client for driving ServerConnection through its sans-I/O
 * API in tests: builds ClientHellos (with hooks to break them), follows the
 * server's flight with the same key schedule, and seals/opens records, so tests
 * can check exactly which alert the server sends for each misbehaviour.
 * Test-only: it does not verify the certificate or the signature.
 */
import { generateKeyPairSync, createPublicKey, diffieHellman, randomBytes } from 'node:crypto'
import { Reader, concat } from '@outpost/wire'
import { ContentType, ExtensionType, HandshakeType } from '../../src/constants.ts'
import {
  KeyScheduleEarly,
  type KeyScheduleHandshake,
  type KeyScheduleTraffic,
} from '../../src/crypto/key-schedule.ts'
import { suiteById, type SuiteParams } from '../../src/crypto/suites.ts'
import { Transcript } from '../../src/crypto/transcript.ts'
import { encodeClientHello, type ClientHello } from '../../src/messages/client-hello.ts'
import {
  encodeAlpn,
  encodeKeyShareClient,
  encodeNamedGroupList,
  encodePskModes,
  encodeServerName,
  encodeSignatureSchemeList,
  encodeSupportedVersionsClient,
  decodeKeyShareServer,
  type Extension,
} from '../../src/messages/extensions.ts'
import { decodeServerHello, HELLO_RETRY_REQUEST_RANDOM } from '../../src/messages/server-hello.ts'
import { encodeFinished } from '../../src/messages/server-messages.ts'
import { HandshakeJoiner } from '../../src/messages/handshake.ts'
import { RecordDeframer } from '../../src/record/deframer.ts'
import { RecordDecrypter, RecordEncrypter, plaintextRecord } from '../../src/record/record-layer.ts'
import { equalBytes } from '@outpost/wire'

export interface ClientOptions {
  cipherSuites?: number[]
  /** Groups to send key shares for (x25519 only is implemented here). */
  keyShareGroups?: number[]
  supportedGroups?: number[]
  signatureAlgorithms?: number[]
  serverName?: string
  alpn?: string[]
  sessionId?: Uint8Array
  legacyVersion?: number
  /** Last chance to change the extension list of the first ClientHello. */
  editExtensions?: (exts: Extension[]) => Extension[]
}

export interface ServerRecord {
  type: number
  content: Uint8Array
}

function x25519Share(): {
  pub: Uint8Array
  priv: ReturnType<typeof generateKeyPairSync>['privateKey']
} {
  const kp = generateKeyPairSync('x25519')
  return {
    pub: new Uint8Array(kp.publicKey.export({ format: 'raw-public' } as never) as Uint8Array),
    priv: kp.privateKey,
  }
}

export class TestClient {
  readonly opts: ClientOptions
  readonly #shares = new Map<number, ReturnType<typeof x25519Share>>()
  readonly #deframer = new RecordDeframer()
  readonly #joiner = new HandshakeJoiner(() => 1 << 20)
  suite: SuiteParams | undefined
  transcript: Transcript | undefined
  #ch1: Uint8Array | undefined
  #thServerFinished: Uint8Array | undefined
  hs: KeyScheduleHandshake | undefined
  traffic: KeyScheduleTraffic | undefined
  reader: RecordDecrypter | undefined
  writer: RecordEncrypter | undefined
  helloRetry: { group: number; cookie: Uint8Array | undefined } | undefined
  serverDone = false
  readonly messages: number[] = []
  readonly alerts: number[] = []
  readonly appData: Uint8Array[] = []
  lastClientHello: ClientHello | undefined

  constructor(opts: ClientOptions = {}) {
    this.opts = opts
  }

  baseExtensions(groups: number[], cookie?: Uint8Array): Extension[] {
    const o = this.opts
    const shares = groups.map((g) => {
      let s = this.#shares.get(g)
      if (!s) {
        s = x25519Share()
        this.#shares.set(g, s)
      }
      return { group: g, keyExchange: s.pub }
    })
    const exts: Extension[] = []
    if (o.serverName !== undefined)
      exts.push({ type: ExtensionType.ServerName, data: encodeServerName(o.serverName) })
    exts.push({
      type: ExtensionType.SupportedGroups,
      data: encodeNamedGroupList(o.supportedGroups ?? [0x001d, 0x0017]),
    })
    exts.push({
      type: ExtensionType.SignatureAlgorithms,
      data: encodeSignatureSchemeList(o.signatureAlgorithms ?? [0x0403, 0x0804]),
    })
    if (o.alpn)
      exts.push({
        type: ExtensionType.ApplicationLayerProtocolNegotiation,
        data: encodeAlpn(o.alpn.map((a) => new TextEncoder().encode(a))),
      })
    exts.push({ type: ExtensionType.KeyShare, data: encodeKeyShareClient(shares) })
    exts.push({
      type: ExtensionType.SupportedVersions,
      data: encodeSupportedVersionsClient([0x0304]),
    })
    exts.push({ type: ExtensionType.PskKeyExchangeModes, data: encodePskModes([1]) })
    if (cookie)
      exts.push({
        type: ExtensionType.Cookie,
        data: concat(new Uint8Array([cookie.length >> 8, cookie.length & 0xff]), cookie),
      })
    return exts
  }

  /** The ClientHello as a plaintext record (handshake message in `.message`). */
  clientHello(extensions?: Extension[]): { record: Uint8Array; message: Uint8Array } {
    const o = this.opts
    const exts =
      extensions ??
      (o.editExtensions ?? ((e) => e))(this.baseExtensions(o.keyShareGroups ?? [0x001d]))
    const ch: ClientHello = {
      legacyVersion: o.legacyVersion ?? 0x0303,
      random: new Uint8Array(randomBytes(32)),
      legacySessionId: o.sessionId ?? new Uint8Array(0),
      cipherSuites: o.cipherSuites ?? [0x1301, 0x1302, 0x1303],
      legacyCompressionMethods: new Uint8Array([0]),
      extensions: exts,
    }
    this.lastClientHello = ch
    const message = encodeClientHello(ch)
    this.#ch1 ??= message
    return { record: plaintextRecord(ContentType.Handshake, message), message }
  }

  /** ClientHello2 after a HelloRetryRequest: same as the first with the requested share and the cookie. */
  clientHello2(edit?: (exts: Extension[]) => Extension[]): Uint8Array {
    const hrr = this.helloRetry
    const first = this.lastClientHello
    if (!hrr || !first) throw new Error('no HelloRetryRequest')
    let exts = first.extensions.map((e) =>
      e.type === ExtensionType.KeyShare ? { type: e.type, data: this.baseShares([hrr.group]) } : e,
    )
    if (hrr.cookie)
      exts.push({
        type: ExtensionType.Cookie,
        data: concat(
          new Uint8Array([hrr.cookie.length >> 8, hrr.cookie.length & 0xff]),
          hrr.cookie,
        ),
      })
    if (edit) exts = edit(exts)
    const message = encodeClientHello({ ...first, extensions: exts })
    this.transcript?.update(message)
    return plaintextRecord(ContentType.Handshake, message)
  }

  baseShares(groups: number[]): Uint8Array {
    return encodeKeyShareClient(
      groups.map((g) => {
        let s = this.#shares.get(g)
        if (!s) {
          s = x25519Share()
          this.#shares.set(g, s)
        }
        return { group: g, keyExchange: s.pub }
      }),
    )
  }

  /** Feeds server output; returns the records seen (decrypted where keys allow). */
  receive(bytes: Uint8Array[]): ServerRecord[] {
    const out: ServerRecord[] = []
    for (const b of bytes) this.#deframer.push(b)
    for (;;) {
      const rec = this.#deframer.next()
      if (!rec) break
      let r: ServerRecord
      if (rec.type === ContentType.ApplicationData && this.reader) {
        r = this.reader.decrypt(rec.header, rec.fragment)
      } else {
        r = { type: rec.type, content: rec.fragment }
      }
      out.push(r)
      if (r.type === ContentType.Alert) this.alerts.push(r.content[1] ?? -1)
      else if (r.type === ContentType.Handshake) this.#handshake(r.content)
      else if (r.type === ContentType.ApplicationData) this.appData.push(r.content)
    }
    return out
  }

  #handshake(fragment: Uint8Array): void {
    this.#joiner.push(fragment)
    for (;;) {
      const m = this.#joiner.next()
      if (!m) return
      this.messages.push(m.type)
      if (m.type === HandshakeType.ServerHello) {
        const sh = decodeServerHello(m.body)
        this.suite = suiteById(sh.cipherSuite)
        if (!this.suite) throw new Error('bad suite')
        if (equalBytes(sh.random, HELLO_RETRY_REQUEST_RANDOM)) {
          const ks = sh.extensions.find((e) => e.type === ExtensionType.KeyShare)
          const ck = sh.extensions.find((e) => e.type === ExtensionType.Cookie)
          const group = new Reader(ks?.data ?? new Uint8Array(2)).u16()
          this.helloRetry = { group, cookie: ck ? new Reader(ck.data).vec16() : undefined }
          this.transcript = Transcript.afterRetry(
            this.suite.hash,
            new Transcript(this.suite.hash).currentWith(this.#ch1 ?? new Uint8Array(0)),
          )
          this.transcript.update(m.raw)
          continue
        }
        const ks = decodeKeyShareServer(
          sh.extensions.find((e) => e.type === ExtensionType.KeyShare)?.data ?? new Uint8Array(0),
        )
        const mine = this.#shares.get(ks.group)
        if (!mine) throw new Error('server chose a share we did not send')
        const ss = diffieHellman({
          privateKey: mine.priv,
          publicKey: createPublicKey({
            key: ks.keyExchange,
            format: 'raw-public',
            asymmetricKeyType: 'x25519',
          } as never),
        })
        if (!this.transcript) {
          this.transcript = new Transcript(this.suite.hash)
          this.transcript.update(this.#ch1 ?? new Uint8Array(0))
        }
        this.transcript.update(m.raw)
        this.hs = new KeyScheduleEarly(this.suite).intoHandshake(ss, this.transcript.current())
        this.reader = new RecordDecrypter(this.suite, this.hs.serverHandshakeTrafficSecret)
        this.writer = new RecordEncrypter(this.suite, this.hs.clientHandshakeTrafficSecret)
        continue
      }
      if (m.type === HandshakeType.NewSessionTicket || m.type === HandshakeType.KeyUpdate) {
        if (m.type === HandshakeType.KeyUpdate) this.reader?.update()
        continue
      }
      this.transcript?.update(m.raw)
      if (m.type === HandshakeType.Finished && this.hs && this.suite && this.transcript) {
        // The server writes under its application keys from here on.
        this.serverDone = true
        this.#thServerFinished = this.transcript.current()
        this.traffic = this.hs.intoTraffic(this.#thServerFinished)
        this.reader = new RecordDecrypter(this.suite, this.traffic.serverApplicationTrafficSecret0)
      }
    }
  }

  /** The client's Finished record (under the handshake keys); switches to application keys. */
  finished(tamper = false): Uint8Array {
    const { hs, suite, writer, traffic } = this
    const th = this.#thServerFinished
    if (!hs || !suite || !writer || !traffic || !th) throw new Error('server flight incomplete')
    const vd = hs.clientFinished(th)
    if (tamper) vd[0] = (vd[0] as number) ^ 1
    const rec = writer.encrypt(ContentType.Handshake, encodeFinished(vd))
    this.writer = new RecordEncrypter(suite, traffic.clientApplicationTrafficSecret0)
    return rec
  }

  /** Transcript hash up to the server's Finished (what the client's Finished covers). */
  get serverFinishedHash(): Uint8Array {
    if (!this.#thServerFinished) throw new Error('server flight incomplete')
    return this.#thServerFinished
  }

  /** Seals `content` as `type` under the current client keys. */
  seal(type: ContentType, content: Uint8Array, pad = 0): Uint8Array {
    if (!this.writer) throw new Error('no keys')
    return this.writer.encrypt(type, content, pad)
  }
}

/** The fatal alert the server sent, decoded from plaintext or via the client's keys. */
export function lastAlert(c: TestClient): number | undefined {
  return c.alerts.at(-1)
}
