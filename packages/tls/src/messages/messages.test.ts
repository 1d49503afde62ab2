/**
 * Codec properties for every message and extension (Go
 * `handshake_messages_test.go` as fast-check properties): decode(encode(m)) = m,
 * no proper prefix decodes, random bytes only ever throw the codec's own errors;
 * plus named rejects.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { DecodeError, Reader, Writer } from '@outpost/wire'
import { TlsError } from '../errors.ts'
import {
  decodeClientHello,
  encodeClientHello,
  parseClientHelloExtensions,
  type ClientHello,
} from './client-hello.ts'
import { decodeServerHello, encodeServerHello, type ServerHello } from './server-hello.ts'
import {
  decodeCertificate,
  decodeCertificateVerify,
  decodeEncryptedExtensions,
  decodeKeyUpdate,
  decodeNewSessionTicket,
  encodeCertificate,
  encodeCertificateVerify,
  encodeEncryptedExtensions,
  encodeKeyUpdate,
  encodeNewSessionTicket,
  type CertificateMessage,
  type NewSessionTicket,
} from './server-messages.ts'
import {
  decodeAlpn,
  decodeCookie,
  decodeExtensions,
  decodeKeyShareClient,
  decodeNamedGroupList,
  decodeOfferedPsks,
  decodePskModes,
  decodeServerName,
  decodeSignatureSchemeList,
  decodeSupportedVersionsClient,
  encodeAlpn,
  encodeCookie,
  encodeExtensions,
  encodeKeyShareClient,
  encodeNamedGroupList,
  encodeOfferedPsks,
  encodePskModes,
  encodeServerName,
  encodeSignatureSchemeList,
  encodeSupportedVersionsClient,
  type Extension,
} from './extensions.ts'
import { HandshakeJoiner } from './handshake.ts'

const isCodecError = (e: unknown): boolean => e instanceof DecodeError || e instanceof TlsError

/** Random bytes either decode or throw the codec's own error, never anything else. */
function neverCrashes(decode: (b: Uint8Array) => unknown): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      try {
        decode(b)
      } catch (e) {
        assert.ok(isCodecError(e), `unexpected ${String(e)}`)
      }
    }),
    { numRuns: 300 },
  )
}

/** decode(encode(m)) deep-equals m, and no proper prefix of encode(m) decodes. */
function roundTrips<T>(
  arb: fc.Arbitrary<T>,
  encode: (m: T) => Uint8Array,
  decode: (b: Uint8Array) => T,
): void {
  fc.assert(
    fc.property(arb, (m) => {
      const bytes = encode(m)
      assert.deepEqual(decode(bytes), m)
      for (let i = 0; i < bytes.length; i++) {
        assert.throws(() => decode(bytes.subarray(0, i)), isCodecError)
      }
    }),
    { numRuns: 100 },
  )
}

/** fast-check records have a null prototype by default; decoded objects do not. */
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true })
const u16 = fc.integer({ min: 0, max: 0xffff })
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: min, maxLength: max })
const extension: fc.Arbitrary<Extension> = rec({ type: u16, data: bytes(0, 40) })
const extensions = fc.uniqueArray(extension, { selector: (e) => e.type, maxLength: 6 })
const hostName = fc
  .array(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/), { minLength: 1, maxLength: 4 })
  .map((labels) => [...labels, 'example'].join('.'))

const bodyOf = (msg: Uint8Array): Uint8Array => msg.subarray(4)

test('decodeClientHello() round-trips; prefixes fail except a cut exactly before the extensions', () => {
  const arb: fc.Arbitrary<ClientHello> = rec({
    legacyVersion: u16,
    random: bytes(32, 32),
    legacySessionId: bytes(0, 32),
    cipherSuites: fc.array(u16, { minLength: 1, maxLength: 10 }),
    legacyCompressionMethods: bytes(1, 3),
    extensions: extensions.filter((e) => e.length > 0),
  })
  fc.assert(
    fc.property(arb, (ch) => {
      const body = bodyOf(encodeClientHello(ch))
      assert.deepEqual(decodeClientHello(body), ch)
      const extStart =
        2 +
        32 +
        1 +
        ch.legacySessionId.length +
        2 +
        2 * ch.cipherSuites.length +
        1 +
        ch.legacyCompressionMethods.length
      for (let i = 0; i < body.length; i++) {
        if (i === extStart) {
          // RFC 8446 §4.1.2: a ClientHello may end before the extensions block.
          assert.equal(decodeClientHello(body.subarray(0, i)).extensions.length, 0)
        } else {
          assert.throws(() => decodeClientHello(body.subarray(0, i)), isCodecError)
        }
      }
    }),
    { numRuns: 100 },
  )
  neverCrashes((b) => parseClientHelloExtensions(decodeClientHello(b)))
})

test('decodeClientHello() rejects duplicate extensions, empty suites and long session ids', () => {
  const base: ClientHello = {
    legacyVersion: 0x0303,
    random: new Uint8Array(32),
    legacySessionId: new Uint8Array(0),
    cipherSuites: [0x1301],
    legacyCompressionMethods: new Uint8Array([0]),
    extensions: [],
  }
  const dup = bodyOf(
    encodeClientHello({
      ...base,
      extensions: [
        { type: 10, data: new Uint8Array(0) },
        { type: 10, data: new Uint8Array(0) },
      ],
    }),
  )
  assert.throws(() => decodeClientHello(dup), /appears twice/)
  const empty = bodyOf(encodeClientHello({ ...base, cipherSuites: [] }))
  assert.throws(() => decodeClientHello(empty), /cipher_suites of 0 bytes/)
  const longId = bodyOf(encodeClientHello({ ...base, legacySessionId: new Uint8Array(33) }))
  assert.throws(() => decodeClientHello(longId), /legacy_session_id of 33 bytes/)
  const noComp = bodyOf(encodeClientHello({ ...base, legacyCompressionMethods: new Uint8Array(0) }))
  assert.throws(() => decodeClientHello(noComp), /compression_methods is empty/)
})

test('parseClientHelloExtensions() requires pre_shared_key to be last', () => {
  const psk = {
    type: 41,
    data: encodeOfferedPsks(
      [{ identity: new Uint8Array([1]), obfuscatedTicketAge: 0 }],
      [new Uint8Array(32)],
    ),
  }
  const ch: ClientHello = {
    legacyVersion: 0x0303,
    random: new Uint8Array(32),
    legacySessionId: new Uint8Array(0),
    cipherSuites: [0x1301],
    legacyCompressionMethods: new Uint8Array([0]),
    extensions: [psk, { type: 43, data: encodeSupportedVersionsClient([0x0304]) }],
  }
  assert.throws(() => parseClientHelloExtensions(ch), /pre_shared_key is not last/)
  assert.equal(
    parseClientHelloExtensions({ ...ch, extensions: [...ch.extensions].reverse() }).preSharedKey
      ?.identities.length,
    1,
  )
})

test('decodeServerHello() round-trips and rejects prefixes', () => {
  const arb: fc.Arbitrary<ServerHello> = rec({
    random: bytes(32, 32),
    legacySessionIdEcho: bytes(0, 32),
    cipherSuite: u16,
    extensions,
  })
  roundTrips(arb, (m) => bodyOf(encodeServerHello(m)), decodeServerHello)
  neverCrashes(decodeServerHello)
})

test('server messages round-trip: EncryptedExtensions, Certificate, CertificateVerify, NewSessionTicket, KeyUpdate', () => {
  roundTrips(extensions, (m) => bodyOf(encodeEncryptedExtensions(m)), decodeEncryptedExtensions)
  const cert: fc.Arbitrary<CertificateMessage> = rec({
    certificateRequestContext: bytes(0, 4),
    certificateList: fc.array(rec({ certData: bytes(1, 50), extensions }), { maxLength: 3 }),
  })
  roundTrips(cert, (m) => bodyOf(encodeCertificate(m)), decodeCertificate)
  roundTrips(
    rec({ algorithm: u16, signature: bytes(1, 80) }),
    (m) => bodyOf(encodeCertificateVerify(m)),
    decodeCertificateVerify,
  )
  const nst: fc.Arbitrary<NewSessionTicket> = rec({
    ticketLifetime: fc.integer({ min: 0, max: 0xffffffff }),
    ticketAgeAdd: fc.integer({ min: 0, max: 0xffffffff }),
    ticketNonce: bytes(0, 8),
    ticket: bytes(1, 60),
    extensions,
  })
  roundTrips(nst, (m) => bodyOf(encodeNewSessionTicket(m)), decodeNewSessionTicket)
  roundTrips(
    fc.constantFrom(0 as const, 1 as const),
    (m) => bodyOf(encodeKeyUpdate(m)),
    decodeKeyUpdate,
  )
  assert.throws(() => decodeKeyUpdate(new Uint8Array([2])), /request_update is 2/)
  for (const d of [
    decodeEncryptedExtensions,
    decodeCertificate,
    decodeCertificateVerify,
    decodeNewSessionTicket,
    decodeKeyUpdate,
  ]) {
    neverCrashes(d)
  }
})

test('extension codecs round-trip and never crash', () => {
  roundTrips(hostName, encodeServerName, decodeServerName)
  roundTrips(
    fc.array(u16, { minLength: 1, maxLength: 20 }),
    encodeNamedGroupList,
    decodeNamedGroupList,
  )
  roundTrips(fc.array(u16, { minLength: 1, maxLength: 20 }), encodeSignatureSchemeList, (b) =>
    decodeSignatureSchemeList(b),
  )
  roundTrips(
    fc.array(u16, { minLength: 1, maxLength: 20 }),
    encodeSupportedVersionsClient,
    decodeSupportedVersionsClient,
  )
  roundTrips(
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 5 }),
    encodePskModes,
    decodePskModes,
  )
  roundTrips(bytes(1, 60), encodeCookie, decodeCookie)
  roundTrips(fc.array(bytes(1, 10), { minLength: 1, maxLength: 4 }), encodeAlpn, decodeAlpn)
  roundTrips(
    fc.array(rec({ group: u16, keyExchange: bytes(0, 40) }), { maxLength: 4 }),
    encodeKeyShareClient,
    decodeKeyShareClient,
  )
  const psks = fc
    .array(
      rec({ identity: bytes(1, 20), obfuscatedTicketAge: fc.integer({ min: 0, max: 0xffffffff }) }),
      { minLength: 1, maxLength: 3 },
    )
    .chain((ids) =>
      fc.tuple(
        fc.constant(ids),
        fc.array(bytes(32, 48), { minLength: ids.length, maxLength: ids.length }),
      ),
    )
  fc.assert(
    fc.property(psks, ([ids, binders]) => {
      const b = encodeOfferedPsks(ids, binders)
      const d = decodeOfferedPsks(b)
      assert.deepEqual(d.identities, ids)
      assert.deepEqual(d.binders, binders)
      // bindersBytes covers the tail: length prefix plus each vec8 binder.
      assert.equal(d.bindersBytes, 2 + binders.reduce((n, x) => n + 1 + x.length, 0))
      for (let i = 0; i < b.length; i++)
        assert.throws(() => decodeOfferedPsks(b.subarray(0, i)), isCodecError)
    }),
    { numRuns: 100 },
  )
  for (const d of [
    decodeServerName,
    decodeNamedGroupList,
    decodeSupportedVersionsClient,
    decodePskModes,
    decodeCookie,
    decodeAlpn,
    decodeKeyShareClient,
    decodeOfferedPsks,
    (b: Uint8Array) => decodeExtensions(new Reader(b), 'x'),
  ]) {
    neverCrashes(d)
  }
})

test('named rejects: empty lists, odd lengths, bad host names', () => {
  assert.throws(() => decodeNamedGroupList(new Uint8Array([0, 0])), /list is empty/)
  assert.throws(() => decodeSignatureSchemeList(new Uint8Array([0, 3, 4, 3, 5])), /odd length/)
  assert.throws(() => decodeAlpn(new Uint8Array([0, 0])), /list is empty/)
  assert.throws(() => decodeAlpn(new Uint8Array([0, 1, 0])), /empty protocol name/)
  assert.throws(() => decodePskModes(new Uint8Array([0])), /list is empty/)
  assert.throws(() => decodeCookie(new Uint8Array([0, 0])), /empty/)
  assert.throws(() => decodeServerName(encodeServerName('a.example.')), /trailing dot/)
  assert.throws(() => decodeServerName(encodeServerName('10.0.0.1')), /IP literal/)
  assert.throws(() => decodeServerName(encodeServerName('bad name.example')), /invalid byte/)
  assert.equal(decodeServerName(encodeServerName('MiXeD.Example')), 'mixed.example')
  const w = new Writer()
  encodeExtensions(w, [
    { type: 1, data: new Uint8Array(0) },
    { type: 1, data: new Uint8Array(1) },
  ])
  assert.throws(() => decodeExtensions(new Reader(w.finish()), 'X'), /appears twice/)
})

test('HandshakeJoiner reassembles messages split across and packed into records', () => {
  const j = new HandshakeJoiner(() => 100)
  const msgA = new Uint8Array([20, 0, 0, 3, 1, 2, 3])
  const msgB = new Uint8Array([24, 0, 0, 1, 0])
  const all = new Uint8Array([...msgA, ...msgB])
  j.push(all.subarray(0, 2))
  assert.equal(j.next(), undefined)
  assert.equal(j.hasPartial, true)
  j.push(all.subarray(2, 9))
  assert.deepEqual(j.next()?.raw, msgA)
  assert.equal(j.next(), undefined)
  j.push(all.subarray(9))
  assert.deepEqual(j.next()?.body, new Uint8Array([0]))
  assert.equal(j.hasPartial, false)
  assert.throws(() => {
    j.push(new Uint8Array([20, 0, 1, 0]))
    j.next()
  }, /exceeds 100/)
})
