/**
 * RFC 8448 §3 (simple 1-RTT handshake) as key-schedule, record and message
 * tests, with the trace pasted verbatim under test/vectors/rfc8448/.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { concat, toHex } from '@outpost/wire'
import {
  KeyScheduleEarly,
  finishedVerifyData,
  resumptionPsk,
  trafficKeys,
} from '../src/crypto/key-schedule.ts'
import { suiteById } from '../src/crypto/suites.ts'
import { hashOf } from '../src/crypto/transcript.ts'
import {
  decodeClientHello,
  encodeClientHello,
  parseClientHelloExtensions,
} from '../src/messages/client-hello.ts'
import { decodeServerHello, encodeServerHello } from '../src/messages/server-hello.ts'
import {
  decodeCertificate,
  decodeCertificateVerify,
  decodeEncryptedExtensions,
  encodeCertificate,
  encodeCertificateVerify,
  encodeEncryptedExtensions,
  encodeFinished,
} from '../src/messages/server-messages.ts'
import { RecordDecrypter, RecordEncrypter } from '../src/record/record-layer.ts'
import { ServerConnection } from '../src/server/machine.ts'
import { ContentType, CipherSuite } from '../src/constants.ts'
import { loadTrace, parseVector } from './helpers/vectors.ts'
import { testCertificates } from './helpers/certs.ts'

const trace = loadTrace('simple-1rtt.txt')
const v = (heading: string, label: string): Uint8Array => parseVector(trace, heading, label)
const suite = suiteById(CipherSuite.TLS_AES_128_GCM_SHA256)!

const CH = v('construct a ClientHello', 'ClientHello')
const SH = v('construct a ServerHello', 'ServerHello')
const EE = v('construct an EncryptedExtensions', 'EncryptedExtensions')
const CERT = v('construct a Certificate handshake', 'Certificate')
const CV = v('construct a CertificateVerify', 'CertificateVerify')
const SFIN = v('construct a Finished', 'Finished')

test('RFC 8448 §3: handshake and traffic secrets from the key schedule', () => {
  const ikm = v('extract secret "handshake"', 'IKM')
  const hs = new KeyScheduleEarly(suite).intoHandshake(ikm, hashOf('sha256', concat(CH, SH)))
  assert.equal(toHex(hs.clientHandshakeTrafficSecret), toHex(v('"tls13 c hs traffic"', 'expanded')))
  assert.equal(toHex(hs.serverHandshakeTrafficSecret), toHex(v('"tls13 s hs traffic"', 'expanded')))
  const keys = trafficKeys(suite, hs.serverHandshakeTrafficSecret)
  assert.equal(toHex(keys.key), toHex(v('write traffic keys for handshake', 'key expanded')))
  assert.equal(toHex(keys.iv), toHex(v('write traffic keys for handshake', 'iv expanded')))

  const serverFinished = hs.serverFinished(hashOf('sha256', concat(CH, SH, EE, CERT, CV)))
  assert.equal(toHex(serverFinished), toHex(v('{server}  calculate finished', 'finished')))
  assert.equal(toHex(encodeFinished(serverFinished)), toHex(SFIN))

  const th = hashOf('sha256', concat(CH, SH, EE, CERT, CV, SFIN))
  const clientFinished = hs.clientFinished(th)
  const traffic = hs.intoTraffic(th)
  assert.equal(
    toHex(traffic.clientApplicationTrafficSecret0),
    toHex(v('"tls13 c ap traffic"', 'expanded')),
  )
  assert.equal(
    toHex(traffic.serverApplicationTrafficSecret0),
    toHex(v('"tls13 s ap traffic"', 'expanded')),
  )
  assert.equal(toHex(traffic.exporterMasterSecret), toHex(v('"tls13 exp master"', 'expanded')))
  const app = trafficKeys(suite, traffic.serverApplicationTrafficSecret0)
  assert.equal(toHex(app.key), toHex(v('write traffic keys for application', 'key expanded')))
  assert.equal(toHex(app.iv), toHex(v('write traffic keys for application', 'iv expanded')))

  // The client's Finished, then the resumption master secret that §4 starts from.
  const cfin = encodeFinished(clientFinished)
  const rms = traffic.resumptionMasterSecret(
    hashOf('sha256', concat(CH, SH, EE, CERT, CV, SFIN, cfin)),
  )
  assert.equal(toHex(rms), toHex(v('generate resumption secret', 'PRK')))
})

test('RFC 8448 §3: finished_key derivation matches the trace for both sides', () => {
  // finished_key is internal to finishedVerifyData; check it through an HMAC identity:
  // verify_data over the same hash must differ between the two base keys.
  const ikm = v('extract secret "handshake"', 'IKM')
  const hs = new KeyScheduleEarly(suite).intoHandshake(ikm, hashOf('sha256', concat(CH, SH)))
  const h = hashOf('sha256', concat(CH, SH, EE, CERT, CV))
  const a = finishedVerifyData(suite, hs.serverHandshakeTrafficSecret, h)
  const b = finishedVerifyData(suite, hs.clientHandshakeTrafficSecret, h)
  assert.notEqual(toHex(a), toHex(b))
  assert.equal(toHex(a), toHex(v('{server}  calculate finished', 'finished')))
})

test('RFC 8448 §3: every handshake message decodes and re-encodes to the same bytes', () => {
  const ch = decodeClientHello(CH.subarray(4))
  assert.deepEqual(ch.cipherSuites, [0x1301, 0x1303, 0x1302])
  assert.deepEqual(
    ch.extensions.map((e) => e.type),
    [0x0000, 0xff01, 0x000a, 0x0023, 0x0033, 0x002b, 0x000d, 0x002d, 0x001c],
  )
  assert.equal(toHex(encodeClientHello(ch)), toHex(CH))
  const exts = parseClientHelloExtensions(ch)
  assert.equal(exts.serverName, 'server')
  assert.deepEqual(exts.supportedVersions, [0x0304])
  assert.equal(exts.keyShares?.[0]?.group, 0x001d)
  assert.equal(toHex(encodeServerHello(decodeServerHello(SH.subarray(4)))), toHex(SH))
  assert.equal(
    toHex(encodeEncryptedExtensions(decodeEncryptedExtensions(EE.subarray(4)))),
    toHex(EE),
  )
  assert.equal(toHex(encodeCertificate(decodeCertificate(CERT.subarray(4)))), toHex(CERT))
  const cv = decodeCertificateVerify(CV.subarray(4))
  assert.equal(cv.algorithm, 0x0804)
  assert.equal(toHex(encodeCertificateVerify(cv)), toHex(CV))
})

test('RFC 8448 §3: records sealed with the handshake keys open with them', () => {
  const ikm = v('extract secret "handshake"', 'IKM')
  const hs = new KeyScheduleEarly(suite).intoHandshake(ikm, hashOf('sha256', concat(CH, SH)))
  const flight = concat(EE, CERT, CV, SFIN)
  const sealed = new RecordEncrypter(suite, hs.serverHandshakeTrafficSecret).encrypt(
    ContentType.Handshake,
    flight,
  )
  // The trace's record: 23 03 03, length = flight + type byte + 16-byte tag.
  assert.equal(toHex(sealed.subarray(0, 5)), toHex(new Uint8Array([23, 3, 3, 0x02, 0xa2])))
  const opened = new RecordDecrypter(suite, hs.serverHandshakeTrafficSecret).decrypt(
    sealed.subarray(0, 5),
    sealed.subarray(5),
  )
  assert.equal(opened.type, ContentType.Handshake)
  assert.equal(toHex(opened.content), toHex(flight))
  const tampered = sealed.slice()
  tampered[10] = (tampered[10] as number) ^ 1
  assert.throws(
    () =>
      new RecordDecrypter(suite, hs.serverHandshakeTrafficSecret).decrypt(
        tampered.subarray(0, 5),
        tampered.subarray(5),
      ),
    /bad tag/,
  )
})

test('ServerConnection answers the RFC 8448 §3 ClientHello like the trace (except its own key share)', async () => {
  const random = v('construct a ServerHello', 'ServerHello').subarray(6, 38)
  const { source } = await testCertificates()
  const conn = new ServerConnection({ certificates: source, random: () => random.slice() })
  conn.receive(concat(new Uint8Array([22, 3, 1, 0, CH.length]), CH))
  const out = concat(...conn.takeOutput())
  assert.equal(conn.error, undefined)
  assert.equal(out[0], 22)
  const sh = out.subarray(5, 5 + SH.length)
  // Identical up to the server's x25519 public key (bytes 52..84 of the message).
  assert.equal(toHex(sh.subarray(0, 52)), toHex(SH.subarray(0, 52)))
  assert.equal(toHex(sh.subarray(84)), toHex(SH.subarray(84)))
  assert.notEqual(toHex(sh.subarray(52, 84)), toHex(SH.subarray(52, 84)))
  assert.ok(conn.signRequest, 'the handshake waits for a signature')
})

const resumed = loadTrace('resumed-0rtt.txt')
const r = (heading: string, label: string): Uint8Array => parseVector(resumed, heading, label)

test('RFC 8448 §4: the ticket PSK follows from the §3 resumption master secret', () => {
  // §3's NewSessionTicket carries ticket_nonce 00 00.
  const psk = resumptionPsk(suite, v('generate resumption secret', 'PRK'), new Uint8Array([0, 0]))
  assert.equal(toHex(psk), toHex(r('extract secret "early"', 'IKM')))
})

test('RFC 8448 §4: the ClientHello binder verifies over the truncated ClientHello', () => {
  const chMsg = r('send handshake record', 'payload')
  const ch = decodeClientHello(chMsg.subarray(4))
  const exts = parseClientHelloExtensions(ch)
  const offered = exts.preSharedKey!
  assert.equal(offered.identities.length, 1)
  assert.equal(exts.earlyData, true)
  const psk = r('extract secret "early"', 'IKM')
  const early = new KeyScheduleEarly(suite, psk)
  const truncated = chMsg.subarray(0, chMsg.length - offered.bindersBytes)
  const binder = finishedVerifyData(suite, early.resumptionBinderKey(), hashOf('sha256', truncated))
  assert.equal(toHex(binder), toHex(offered.binders[0]!))
  // And the early traffic secret over the whole ClientHello.
  const h = hashOf('sha256', chMsg)
  assert.equal(toHex(h), toHex(r('"tls13 c e traffic"', 'hash')))
  assert.equal(
    toHex(early.clientEarlyTrafficSecret(h)),
    toHex(r('"tls13 c e traffic"', 'expanded')),
  )
})
