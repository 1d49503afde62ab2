/**
 * The TLS 1.3 server handshake as named steps (Go `handshake_server_tls13.go`):
 *
 *   handleClientHello: processClientHello → checkForResumption → pickCertificate
 *     → (helloRetryRequest) → sendServerParameters → sendServerCertificate → AwaitSignature
 *   handleSignature:   sendCertificateVerify → sendServerFinished → ExpectFinished
 *   handleClientFinished: readClientFinished → sendSessionTickets → Traffic
 *
 * Handlers throw TlsErrors; alerts are chosen by `alertFor()` in one place.
 */
import { createHmac } from 'node:crypto'
import { Reader, Writer, ctEqual, equalBytes } from '@outpost/wire'
import {
  AlertDescription,
  ExtensionType,
  HandshakeType,
  NamedGroup,
  ProtocolVersion,
  PskKeyExchangeMode,
  SignatureScheme,
} from '../constants.ts'
import {
  PeerIncompatibleError,
  PeerMisbehavedError,
  illegalParameter,
  unexpectedMessage,
} from '../errors.ts'
import { keyExchange } from '../crypto/key-exchange.ts'
import {
  KeyScheduleEarly,
  KeyScheduleHandshake,
  finishedVerifyData,
  resumptionPsk,
} from '../crypto/key-schedule.ts'
import { suiteById, type SuiteParams } from '../crypto/suites.ts'
import { Transcript, hashOf } from '../crypto/transcript.ts'
import { hmacKey } from '../crypto/hkdf.ts'
import {
  decodeClientHello,
  parseClientHelloExtensions,
  type ClientHello,
  type ClientHelloExtensions,
} from '../messages/client-hello.ts'
import {
  encodeAlpn,
  encodeCookie,
  encodeKeyShareServer,
  encodeU16,
  type Extension,
  type KeyShareEntry,
} from '../messages/extensions.ts'
import { publicBytes, type HandshakeMessage } from '../messages/handshake.ts'
import { HELLO_RETRY_REQUEST_RANDOM, encodeServerHello } from '../messages/server-hello.ts'
import {
  decodeFinished,
  encodeCertificate,
  encodeCertificateVerify,
  encodeEncryptedExtensions,
  encodeFinished,
  encodeNewSessionTicket,
} from '../messages/server-messages.ts'
import type { TicketState } from '../tickets.ts'
import type { ResolvedConfig } from './config.ts'
import type {
  AwaitSignature,
  ExpectClientHello,
  ExpectClientHello2,
  ExpectFinished,
  Negotiated,
  ServerState,
  Traffic,
} from './state.ts'

/** What the handshake may do to the connection (implemented by the machine). */
export interface HandshakeIo {
  readonly config: ResolvedConfig
  /** Queues a handshake message under the current write protection. */
  sendHandshake(message: Uint8Array): void
  /** Sends the middlebox-compatibility change_cipher_spec (RFC 8446 §D.4), once. */
  sendCompatibilityCcs(): void
  setWriteKeys(suite: SuiteParams, secret: Uint8Array): void
  /** `skipEarlyData`: trial-decrypt and drop 0-RTT records (RFC 8446 §4.2.10). */
  setReadKeys(suite: SuiteParams, secret: Uint8Array, skipEarlyData?: boolean): void
  /** Throws unexpected_message if a partial handshake message is buffered (RFC 8446 §5.1). */
  requireRecordBoundary(): void
  /** Discard application_data records that arrive before the second ClientHello (RFC 8446 §4.2.10). */
  skipEarlyDataUntilClientHello2(): void
}

const CV_PREFIX = (() => {
  const context = new TextEncoder().encode('TLS 1.3, server CertificateVerify')
  const out = new Uint8Array(64 + context.length + 1)
  out.fill(0x20, 0, 64)
  out.set(context, 64)
  return out
})()

/** Schemes never allowed in a TLS 1.3 CertificateVerify (RFC 8446 §4.4.3, §4.2.3). */
function isTls13Scheme(s: number): boolean {
  const hashByte = s >> 8
  if ((s & 0xff) === 0x01 && hashByte >= 0x02 && hashByte <= 0x06) return false // rsa_pkcs1_*
  if (s === SignatureScheme.ecdsa_sha1) return false
  return true
}

const MAX_TICKET_AGE_SKEW_MS = 10_000
const COOKIE_VERSION = 1

// ---------------------------------------------------------------------------
// ClientHello

export function handleClientHello(
  state: ExpectClientHello | ExpectClientHello2,
  msg: HandshakeMessage,
  io: HandshakeIo,
): ServerState {
  if (msg.type !== HandshakeType.ClientHello) {
    throw unexpectedMessage(`Cannot accept handshake message ${msg.type}: expected ClientHello`)
  }
  const cfg = io.config
  const ch = decodeClientHello(msg.body)
  const exts = parseClientHelloExtensions(ch)
  negotiateVersion(ch, exts)
  const retry = state.kind === 'ExpectClientHello2' ? state : undefined
  if (retry) checkSecondClientHello(retry, ch, exts, io)

  // RFC 8446 §4.1.2: legacy_compression_methods MUST be exactly [null].
  if (ch.legacyCompressionMethods.length !== 1 || ch.legacyCompressionMethods[0] !== 0) {
    throw illegalParameter('Cannot accept ClientHello: compression methods other than null')
  }
  const suite = retry?.suite ?? chooseSuite(cfg, ch)

  // RFC 8446 §9.2: supported_groups and key_share come together.
  if (exts.supportedGroups === undefined || exts.keyShares === undefined) {
    throw new PeerIncompatibleError(
      AlertDescription.MissingExtension,
      'Cannot accept ClientHello: supported_groups and key_share are required (no psk_ke)',
    )
  }
  checkKeyShares(exts.keyShares, exts.supportedGroups)
  const share = chooseKeyShare(cfg, exts.keyShares)

  if (retry) {
    // RFC 8446 §4.1.2: the retried ClientHello carries exactly the requested share.
    if (exts.keyShares.length !== 1 || share?.group !== retry.group) {
      throw illegalParameter(
        'Cannot accept ClientHello2: key_share does not match HelloRetryRequest',
      )
    }
  }

  const transcriptPrefix = retry?.transcript
  const resumption = checkForResumption(cfg, suite, exts, msg, transcriptPrefix)

  // ALPN (RFC 7301 §3.2): server preference; no overlap is no_application_protocol.
  let alpn: Uint8Array | undefined
  if (exts.alpn && cfg.alpnProtocols.length > 0) {
    const offered = exts.alpn
    alpn = cfg.alpnProtocols.find((p) => offered.some((o) => equalBytes(o, p)))
    if (!alpn) {
      throw new PeerIncompatibleError(
        AlertDescription.NoApplicationProtocol,
        'Cannot accept ClientHello: no common ALPN protocol',
      )
    }
  }

  const cert = resumption ? undefined : pickCertificate(cfg, exts)

  if (!share) {
    if (retry) throw illegalParameter('Cannot accept ClientHello2: no usable key_share')
    const group = cfg.groups.find((g) => exts.supportedGroups?.includes(g))
    if (group === undefined) {
      throw new PeerIncompatibleError(
        AlertDescription.HandshakeFailure,
        'Cannot accept ClientHello: no common key exchange group',
      )
    }
    resumption?.early.drop()
    return helloRetryRequest(ch, exts, msg, suite, group, io)
  }

  // Admission (edge budgets against ClientHello floods): once per handshake, after
  // certificate selection and PSK processing, before any key exchange or signing.
  // RFC 8446 §6.2 has no "busy" alert; handshake_failure ("unable to negotiate an
  // acceptable set of security parameters given the options available") says "not
  // now, not with these options" without blaming the peer's protocol use, unlike
  // internal_error, which reports our own fault and invites an immediate retry.
  const refused = cfg.admit?.({
    serverName: exts.serverName,
    resumed: resumption !== undefined,
    peer: cfg.peer,
  })
  if (refused !== undefined) {
    resumption?.early.drop()
    throw new PeerIncompatibleError(
      AlertDescription.HandshakeFailure,
      `Cannot admit handshake: ${refused}`,
    )
  }

  const negotiated: Negotiated = {
    suite,
    group: share.group as NamedGroup,
    serverName: exts.serverName,
    alpn,
    resumed: resumption !== undefined,
    helloRetry: retry !== undefined,
    scheme: cert?.scheme,
  }

  // sendServerParameters (RFC 8446 §4.1.3, §4.3.1)
  const kx = keyExchange(share.group as NamedGroup, share.keyExchange)
  const transcript = transcriptPrefix ?? new Transcript(suite.hash)
  transcript.update(msg.raw)
  // Same order as the RFC 8448 §3 trace, so tests can compare bytes.
  const shExts: Extension[] = [
    {
      type: ExtensionType.KeyShare,
      data: encodeKeyShareServer({ group: share.group, keyExchange: kx.serverShare }),
    },
    { type: ExtensionType.SupportedVersions, data: encodeU16(ProtocolVersion.TLS13) },
  ]
  if (resumption)
    shExts.push({ type: ExtensionType.PreSharedKey, data: encodeU16(resumption.index) })
  const sh = encodeServerHello({
    random: cfg.random(32),
    legacySessionIdEcho: ch.legacySessionId,
    cipherSuite: suite.id,
    extensions: shExts,
  })
  transcript.update(sh)
  io.sendHandshake(sh)
  // RFC 8446 §D.4: a client in compatibility mode sent a session id; answer with one CCS.
  if (ch.legacySessionId.length > 0) io.sendCompatibilityCcs()

  // The Early Secret from the PSK whose binder verified, or from zeros (RFC 8446 §7.1).
  const early = resumption?.early ?? new KeyScheduleEarly(suite)
  const keys = early.intoHandshake(kx.sharedSecret, transcript.current())
  kx.sharedSecret.fill(0)
  io.setWriteKeys(suite, keys.serverHandshakeTrafficSecret)
  io.requireRecordBoundary()
  io.setReadKeys(suite, keys.clientHandshakeTrafficSecret, exts.earlyData)

  const eeExts: Extension[] = []
  // RFC 6066 §3: an empty server_name acknowledges that the name was used.
  if (exts.serverName !== undefined && !resumption) {
    eeExts.push({ type: ExtensionType.ServerName, data: new Uint8Array(0) })
  }
  if (alpn)
    eeExts.push({
      type: ExtensionType.ApplicationLayerProtocolNegotiation,
      data: encodeAlpn([alpn]),
    })
  // No early_data: 0-RTT is always refused (RFC 8446 §4.2.10).
  const ee = encodeEncryptedExtensions(eeExts)
  transcript.update(ee)
  io.sendHandshake(ee)

  if (!cert) return sendServerFinished(transcript, keys, negotiated, io)

  // sendServerCertificate (RFC 8446 §4.4.2)
  const certMsg = certificateMessage(cert.chain)
  transcript.update(certMsg)
  io.sendHandshake(certMsg)
  const th = transcript.current()
  const content = publicBytes(CV_PREFIX.length + th.length)
  content.set(CV_PREFIX)
  content.set(th, CV_PREFIX.length)
  return {
    kind: 'AwaitSignature',
    request: { signer: cert.signer, scheme: cert.scheme, content, serverName: exts.serverName },
    transcript,
    keys,
    negotiated,
  }
}

/**
 * The Certificate message for a chain, encoded once per chain: a server sends
 * the same few chains in every handshake (a CertificateSource hands out the
 * same array each time; chains are not changed once handed over).
 */
const certificateMessages = new WeakMap<readonly Uint8Array[], Uint8Array>()

function certificateMessage(chain: readonly Uint8Array[]): Uint8Array {
  let m = certificateMessages.get(chain)
  if (!m) {
    m = encodeCertificate({
      certificateRequestContext: new Uint8Array(0),
      certificateList: chain.map((certData) => ({ certData, extensions: [] })),
    })
    certificateMessages.set(chain, m)
  }
  return m
}

/** RFC 8446 §4.2.1, §D.5: TLS 1.3 only, chosen by supported_versions. */
function negotiateVersion(ch: ClientHello, exts: ClientHelloExtensions): void {
  if (ch.legacyVersion <= 0x0300) {
    throw new PeerIncompatibleError(
      AlertDescription.ProtocolVersion,
      `Cannot accept ClientHello: legacy_version 0x${ch.legacyVersion.toString(16)}`,
    )
  }
  if (!exts.supportedVersions?.includes(ProtocolVersion.TLS13)) {
    throw new PeerIncompatibleError(
      AlertDescription.ProtocolVersion,
      'Cannot accept ClientHello: client does not offer TLS 1.3',
    )
  }
}

function chooseSuite(cfg: ResolvedConfig, ch: ClientHello): SuiteParams {
  const suite = cfg.suites.find((s) => ch.cipherSuites.includes(s.id))
  if (!suite) {
    throw new PeerIncompatibleError(
      AlertDescription.HandshakeFailure,
      'Cannot accept ClientHello: no common cipher suite',
    )
  }
  return suite
}

/** RFC 8446 §4.2.8: one share per group, each group listed in supported_groups. */
function checkKeyShares(shares: readonly KeyShareEntry[], groups: readonly number[]): void {
  const seen = new Set<number>()
  for (const s of shares) {
    if (seen.has(s.group))
      throw illegalParameter(`Cannot accept key_share: group 0x${s.group.toString(16)} twice`)
    seen.add(s.group)
    if (!groups.includes(s.group)) {
      throw illegalParameter(
        `Cannot accept key_share: group 0x${s.group.toString(16)} not in supported_groups`,
      )
    }
  }
}

/**
 * The client's share for our most preferred group among those it sent shares for.
 * Groups we do not implement are ignored, obsolete ones (RFC 8446 §4.2.7)
 * included: dual-version clients such as Java 11 still list binary curves and
 * secp256k1, and refusing them would cost real clients for no security gain.
 */
function chooseKeyShare(
  cfg: ResolvedConfig,
  shares: readonly KeyShareEntry[],
): KeyShareEntry | undefined {
  for (const g of cfg.groups) {
    const s = shares.find((x) => x.group === g)
    if (s) return s
  }
  return undefined
}

function pickCertificate(
  cfg: ResolvedConfig,
  exts: ClientHelloExtensions,
): {
  chain: readonly Uint8Array[]
  signer: AwaitSignature['request']['signer']
  scheme: SignatureScheme
} {
  // RFC 8446 §9.2: without a PSK, signature_algorithms is mandatory.
  const sigalgs = exts.signatureAlgorithms
  if (sigalgs === undefined) {
    throw new PeerIncompatibleError(
      AlertDescription.MissingExtension,
      'Cannot accept ClientHello: signature_algorithms is required',
    )
  }
  const usable = sigalgs.filter(isTls13Scheme)
  const sel = cfg.certificates.select({
    ...(exts.serverName !== undefined ? { serverName: exts.serverName } : {}),
    signatureSchemes: usable,
    signatureSchemesCert: exts.signatureAlgorithmsCert ?? sigalgs,
  })
  if (!sel) {
    // RFC 6066 §3: an unknown name may abort with unrecognized_name.
    throw new PeerIncompatibleError(
      exts.serverName !== undefined
        ? AlertDescription.UnrecognizedName
        : AlertDescription.HandshakeFailure,
      `Cannot select certificate: none for server name '${exts.serverName ?? ''}'`,
    )
  }
  const scheme = (sel.schemes ?? sel.signer.schemes).find((s) => usable.includes(s))
  if (scheme === undefined) {
    throw new PeerIncompatibleError(
      AlertDescription.HandshakeFailure,
      'Cannot select certificate: no common signature scheme',
    )
  }
  return { chain: sel.chain, signer: sel.signer, scheme }
}

// ---------------------------------------------------------------------------
// HelloRetryRequest (RFC 8446 §4.1.4) and its stateless cookie (§4.2.2)

function helloRetryRequest(
  ch: ClientHello,
  exts: ClientHelloExtensions,
  msg: HandshakeMessage,
  suite: SuiteParams,
  group: NamedGroup,
  io: HandshakeIo,
): ExpectClientHello2 {
  const ch1Hash = hashOf(suite.hash, msg.raw)
  const cookie = makeCookie(io.config.cookieKey, suite, group, ch1Hash)
  const hrr = encodeServerHello({
    random: HELLO_RETRY_REQUEST_RANDOM,
    legacySessionIdEcho: ch.legacySessionId,
    cipherSuite: suite.id,
    extensions: [
      { type: ExtensionType.SupportedVersions, data: encodeU16(ProtocolVersion.TLS13) },
      { type: ExtensionType.KeyShare, data: encodeU16(group) },
      { type: ExtensionType.Cookie, data: encodeCookie(cookie) },
    ],
  })
  const transcript = Transcript.afterRetry(suite.hash, ch1Hash)
  transcript.update(hrr)
  io.requireRecordBoundary()
  io.sendHandshake(hrr)
  if (ch.legacySessionId.length > 0) io.sendCompatibilityCcs()
  if (exts.earlyData) io.skipEarlyDataUntilClientHello2()
  return {
    kind: 'ExpectClientHello2',
    clientHello1: ch,
    clientHello1Hash: ch1Hash,
    extensions1: exts,
    suite,
    group,
    cookie,
    transcript,
  }
}

/** cookie = version ‖ suite ‖ group ‖ Hash(ClientHello1) ‖ HMAC-SHA256(key, all before). */
function makeCookie(
  key: Uint8Array,
  suite: SuiteParams,
  group: number,
  ch1Hash: Uint8Array,
): Uint8Array {
  const w = new Writer(96)
  w.u8(COOKIE_VERSION).u16(suite.id).u16(group).vec8(ch1Hash)
  const body = w.view()
  const mac = createHmac('sha256', hmacKey(key)).update(body).digest()
  return new Writer(body.length + 32).bytes(body).bytes(mac).finish()
}

/** Verifies the cookie's MAC and returns the ClientHello1 hash it carries. */
function openCookie(
  key: Uint8Array,
  cookie: Uint8Array,
  suite: SuiteParams,
  group: number,
): Uint8Array {
  if (cookie.length < 32 + 6) throw illegalParameter('Cannot accept cookie: too short')
  const body = cookie.subarray(0, cookie.length - 32)
  const mac = createHmac('sha256', hmacKey(key)).update(body).digest()
  if (!ctEqual(mac, cookie.subarray(cookie.length - 32)))
    throw illegalParameter('Cannot accept cookie: bad MAC')
  const r = new Reader(body, 'cookie')
  if (r.u8() !== COOKIE_VERSION || r.u16() !== suite.id || r.u16() !== group) {
    throw illegalParameter('Cannot accept cookie: does not match HelloRetryRequest')
  }
  const h = r.vec8()
  r.end()
  return h
}

/** Extensions a second ClientHello may change (RFC 8446 §4.1.2). */
const MAY_CHANGE = new Set<number>([
  ExtensionType.KeyShare,
  ExtensionType.PreSharedKey,
  ExtensionType.Padding,
  ExtensionType.Cookie,
  ExtensionType.EarlyData,
])

/**
 * RFC 8446 §4.1.2: ClientHello2 repeats ClientHello1 except for key_share,
 * early_data (removed), cookie (added), pre_shared_key and padding. The same
 * extensions in the same order, or illegal_parameter (tlsfuzzer
 * test-tls13-shuffled-extentions).
 */
function checkSecondClientHello(
  s: ExpectClientHello2,
  ch: ClientHello,
  exts: ClientHelloExtensions,
  io: HandshakeIo,
): void {
  const a = s.clientHello1
  if (
    ch.legacyVersion !== a.legacyVersion ||
    !equalBytes(ch.random, a.random) ||
    !equalBytes(ch.legacySessionId, a.legacySessionId) ||
    ch.cipherSuites.length !== a.cipherSuites.length ||
    ch.cipherSuites.some((c, i) => c !== a.cipherSuites[i]) ||
    !equalBytes(ch.legacyCompressionMethods, a.legacyCompressionMethods)
  ) {
    throw illegalParameter('Cannot accept ClientHello2: fixed fields differ from ClientHello1')
  }
  if (exts.earlyData)
    throw illegalParameter('Cannot accept ClientHello2: early_data after HelloRetryRequest')
  if (exts.cookie === undefined || !ctEqual(exts.cookie, s.cookie)) {
    throw illegalParameter('Cannot accept ClientHello2: cookie missing or altered')
  }
  // The cookie carries Hash(ClientHello1) as a stateless server would need it;
  // we also hold the transcript, so the two must agree.
  const ch1Hash = openCookie(io.config.cookieKey, exts.cookie, s.suite, s.group)
  if (!equalBytes(ch1Hash, s.clientHello1Hash)) {
    throw illegalParameter('Cannot accept ClientHello2: cookie does not match')
  }
  const keep = (e: Extension): boolean =>
    e.type !== ExtensionType.Padding &&
    e.type !== ExtensionType.Cookie &&
    e.type !== ExtensionType.EarlyData
  const e1 = a.extensions.filter(keep)
  const e2 = ch.extensions.filter(keep)
  if (e1.length !== e2.length)
    throw illegalParameter('Cannot accept ClientHello2: extensions differ')
  e1.forEach((x, i) => {
    const y = e2[i] as Extension
    if (x.type !== y.type)
      throw illegalParameter('Cannot accept ClientHello2: extensions reordered')
    if (!MAY_CHANGE.has(x.type) && !equalBytes(x.data, y.data)) {
      throw illegalParameter(
        `Cannot accept ClientHello2: extension 0x${x.type.toString(16)} changed`,
      )
    }
  })
}

// ---------------------------------------------------------------------------
// Resumption (RFC 8446 §4.2.11, §4.6.1)

interface Resumption {
  readonly index: number
  /** The accepted PSK's Early Secret (the PSK itself is already zeroised). */
  readonly early: KeyScheduleEarly
}

function checkForResumption(
  cfg: ResolvedConfig,
  suite: SuiteParams,
  exts: ClientHelloExtensions,
  msg: HandshakeMessage,
  transcriptPrefix: Transcript | undefined,
): Resumption | undefined {
  const offered = exts.preSharedKey
  if (!offered) return undefined
  // RFC 8446 §4.2.9: a PSK offer without psk_key_exchange_modes is missing_extension.
  if (!exts.pskModes) {
    throw new PeerIncompatibleError(
      AlertDescription.MissingExtension,
      'Cannot accept pre_shared_key: psk_key_exchange_modes is missing',
    )
  }
  if (offered.identities.length !== offered.binders.length) {
    throw illegalParameter('Cannot accept pre_shared_key: identities and binders differ in number')
  }
  // Only psk_dhe_ke: resumption keeps forward secrecy.
  if (!exts.pskModes.includes(PskKeyExchangeMode.psk_dhe_ke) || !cfg.tickets) return undefined
  const now = cfg.now()
  for (let i = 0; i < offered.identities.length; i++) {
    const id = offered.identities[i]
    if (!id) break
    const t = cfg.tickets.open(id.identity)
    if (!t) continue
    if (!acceptable(t, suite, exts, now, id.obfuscatedTicketAge)) {
      t.psk.fill(0)
      continue
    }
    const binder = offered.binders[i] as Uint8Array
    const early = new KeyScheduleEarly(suite, t.psk)
    t.psk.fill(0)
    try {
      verifyBinder(
        suite,
        early,
        binder,
        msg.raw.subarray(0, msg.raw.length - offered.bindersBytes),
        transcriptPrefix,
      )
    } catch (e) {
      early.drop()
      throw e
    }
    return { index: i, early }
  }
  return undefined
}

function acceptable(
  t: TicketState,
  suite: SuiteParams,
  exts: ClientHelloExtensions,
  now: number,
  obfuscatedAge: number,
): boolean {
  const ticketSuite = suiteById(t.cipherSuite)
  // RFC 8446 §4.2.11: the PSK's hash must match the negotiated suite's.
  if (ticketSuite?.hash !== suite.hash) return false
  const ageMs = now - t.issuedMs
  if (ageMs < -MAX_TICKET_AGE_SKEW_MS || ageMs > t.lifetimeSeconds * 1000) return false
  // RFC 8446 §4.2.11.1, §8.3: the client's view of the age must be close to ours.
  const clientAge = (obfuscatedAge - t.ticketAgeAdd) >>> 0
  if (Math.abs(clientAge - ageMs) > MAX_TICKET_AGE_SKEW_MS) return false
  // The name must match the one the ticket was issued for.
  if ((exts.serverName ?? '') !== t.serverName) return false
  return true
}

/** RFC 8446 §4.2.11.2: binder = HMAC(finished_key(binder_key), Transcript-Hash(truncated ClientHello)). */
function verifyBinder(
  suite: SuiteParams,
  early: KeyScheduleEarly,
  binder: Uint8Array,
  truncatedClientHello: Uint8Array,
  prefix: Transcript | undefined,
): void {
  const binderKey = early.resumptionBinderKey()
  const th = prefix
    ? prefix.currentWith(truncatedClientHello)
    : hashOf(suite.hash, truncatedClientHello)
  const expected = finishedVerifyData(suite, binderKey, th)
  binderKey.fill(0)
  if (!ctEqual(expected, binder)) {
    throw new PeerMisbehavedError(
      AlertDescription.DecryptError,
      'Cannot accept pre_shared_key: binder does not verify',
    )
  }
}

// ---------------------------------------------------------------------------
// After the signature

/** Resumes AwaitSignature with the signer's result: CertificateVerify, then Finished. */
export function handleSignature(
  state: AwaitSignature,
  signature: Uint8Array,
  io: HandshakeIo,
): ExpectFinished {
  const cv = encodeCertificateVerify({ algorithm: state.request.scheme, signature })
  state.transcript.update(cv)
  io.sendHandshake(cv)
  return sendServerFinished(state.transcript, state.keys, state.negotiated, io)
}

function sendServerFinished(
  transcript: Transcript,
  keys: KeyScheduleHandshake,
  negotiated: Negotiated,
  io: HandshakeIo,
): ExpectFinished {
  const fin = encodeFinished(keys.serverFinished(transcript.current()))
  transcript.update(fin)
  io.sendHandshake(fin)
  const th = transcript.current()
  const expectedVerifyData = keys.clientFinished(th)
  const traffic = keys.intoTraffic(th)
  io.setWriteKeys(negotiated.suite, traffic.serverApplicationTrafficSecret0)
  traffic.serverApplicationTrafficSecret0.fill(0)
  return { kind: 'ExpectFinished', transcript, keys: traffic, expectedVerifyData, negotiated }
}

// ---------------------------------------------------------------------------
// Client Finished and tickets

export function handleClientFinished(
  state: ExpectFinished,
  msg: HandshakeMessage,
  io: HandshakeIo,
): Traffic {
  if (msg.type !== HandshakeType.Finished) {
    throw unexpectedMessage(`Cannot accept handshake message ${msg.type}: expected Finished`)
  }
  const { suite } = state.negotiated
  const verifyData = decodeFinished(msg.body, suite.hashLen)
  if (!ctEqual(verifyData, state.expectedVerifyData)) {
    throw new PeerMisbehavedError(
      AlertDescription.DecryptError,
      'Cannot accept Finished: verify_data does not match',
    )
  }
  state.transcript.update(msg.raw)
  io.requireRecordBoundary()
  io.setReadKeys(suite, state.keys.clientApplicationTrafficSecret0)
  state.keys.clientApplicationTrafficSecret0.fill(0)
  if (io.config.tickets && io.config.ticketsPerHandshake > 0) {
    const rms = state.keys.resumptionMasterSecret(state.transcript.current())
    sendSessionTickets(rms, state.negotiated, io)
    rms.fill(0)
  }
  state.keys.drop()
  return { kind: 'Traffic', negotiated: state.negotiated }
}

/**
 * RFC 8446 §4.6.1: tickets after every handshake, resumed ones included (tlsfuzzer
 * expects it): `ticketsPerHandshake` after a full handshake, one after a resumption
 * (as OpenSSL does: the client already holds tickets, and needs one to replace the one
 * it used).
 */
function sendSessionTickets(rms: Uint8Array, negotiated: Negotiated, io: HandshakeIo): void {
  const cfg = io.config
  const sealer = cfg.tickets
  if (!sealer) return
  const now = cfg.now()
  const count = negotiated.resumed ? Math.min(1, cfg.ticketsPerHandshake) : cfg.ticketsPerHandshake
  for (let i = 0; i < count; i++) {
    const nonce = new Uint8Array([0, 0, 0, i])
    const psk = resumptionPsk(negotiated.suite, rms, nonce)
    const r = cfg.random(4)
    const ticketAgeAdd =
      (((r[0] ?? 0) << 24) | ((r[1] ?? 0) << 16) | ((r[2] ?? 0) << 8) | (r[3] ?? 0)) >>> 0
    const ticket = sealer.seal({
      cipherSuite: negotiated.suite.id,
      psk,
      ticketAgeAdd,
      issuedMs: now,
      lifetimeSeconds: cfg.ticketLifetimeSeconds,
      serverName: negotiated.serverName ?? '',
      alpn: negotiated.alpn ?? new Uint8Array(0),
    })
    psk.fill(0)
    io.sendHandshake(
      encodeNewSessionTicket({
        ticketLifetime: cfg.ticketLifetimeSeconds,
        ticketAgeAdd,
        ticketNonce: nonce,
        ticket,
        extensions: [],
      }),
    )
  }
}
