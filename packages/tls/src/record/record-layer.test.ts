/**
 * The record layer on every crypto backend this process can run (crypto/native.ts:
 * the native addon when it is built, and node:crypto always): the same tests on
 * each, RFC 8448 §3's records, and both backends against each other.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { toHex } from '@outpost/wire'
import { AlertDescription, CipherSuite, ContentType } from '../constants.ts'
import { InternalError, PeerMisbehavedError } from '../errors.ts'
import { availableBackends, type CryptoBackend } from '../crypto/native.ts'
import { SUITES, suiteById, type SuiteParams } from '../crypto/suites.ts'
import { loadTrace, parseVector } from '../../test/helpers/vectors.ts'
import { RecordDecrypter, RecordEncrypter } from './record-layer.ts'

const trace = loadTrace('simple-1rtt.txt')
const v = (heading: string, label: string): Uint8Array => parseVector(trace, heading, label)
const AES128 = suiteById(CipherSuite.TLS_AES_128_GCM_SHA256) as SuiteParams

const secretFor = (suite: SuiteParams, fill = 7): Uint8Array =>
  new Uint8Array(suite.hashLen).fill(fill)

const isAlert =
  (alert: AlertDescription) =>
  (e: unknown): boolean =>
    e instanceof PeerMisbehavedError && e.alert === alert

/** Splits a record into (header, fragment) as the deframer does. */
const split = (rec: Uint8Array): [Uint8Array, Uint8Array] => [rec.subarray(0, 5), rec.subarray(5)]

for (const backend of availableBackends) {
  test(`rekey gives the records of a new RecordEncrypter/RecordDecrypter for the next secret (${backend})`, () => {
    for (const suite of SUITES) {
      const enc = new RecordEncrypter(suite, secretFor(suite, 1), backend)
      const dec = new RecordDecrypter(suite, secretFor(suite, 1), backend)
      const content = new Uint8Array([5, 6, 7])
      for (let i = 0; i < 3; i++) dec.decrypt(...split(enc.encrypt(ContentType.Handshake, content)))
      enc.rekey(suite, secretFor(suite, 2))
      dec.rekey(suite, secretFor(suite, 2))
      assert.equal(enc.seq, 0)
      assert.equal(dec.seq, 0)
      const fresh = new RecordEncrypter(suite, secretFor(suite, 2), backend)
      for (let i = 0; i < 3; i++) {
        const rec = enc.encrypt(ContentType.ApplicationData, content, i)
        assert.equal(toHex(rec), toHex(fresh.encrypt(ContentType.ApplicationData, content, i)))
        assert.equal(toHex(dec.decrypt(...split(rec)).content), toHex(content))
      }
      // A record under the old key no longer opens.
      const old = new RecordEncrypter(suite, secretFor(suite, 1), backend)
      assert.throws(
        () => dec.decrypt(...split(old.encrypt(ContentType.Handshake, content))),
        isAlert(AlertDescription.BadRecordMac),
      )
      const other = SUITES.find((s) => s !== suite) as SuiteParams
      assert.throws(() => {
        enc.rekey(other, secretFor(other, 3))
      }, InternalError)
      for (const x of [enc, dec, fresh, old]) x.drop()
    }
  })

  test(`RecordEncrypter and RecordDecrypter round-trip every suite, type, size and padding (${backend})`, () => {
    for (const suite of SUITES) {
      const enc = new RecordEncrypter(suite, secretFor(suite), backend)
      const dec = new RecordDecrypter(suite, secretFor(suite), backend)
      assert.equal(enc.backend, backend)
      for (const size of [0, 1, 15, 16, 17, 255, 4095, 4096, 16384]) {
        for (const pad of [0, 1, 100]) {
          if (size + 1 + pad > 16385) continue
          const content = new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff)
          for (const type of [ContentType.ApplicationData, ContentType.Handshake]) {
            const rec = enc.encrypt(type, content, pad)
            const len = size + 1 + pad + 16
            assert.deepEqual([...rec.subarray(0, 5)], [23, 3, 3, len >>> 8, len & 0xff])
            assert.equal(rec.length, 5 + len)
            const [h, f] = split(rec)
            const opened = dec.decrypt(h, f)
            assert.equal(opened.type, type)
            assert.equal(toHex(opened.content), toHex(content))
          }
        }
      }
    }
  })

  test(`RecordEncrypter seals pieces and encryptParts like one buffer (${backend})`, () => {
    const enc = new RecordEncrypter(AES128, secretFor(AES128), backend)
    const dec = new RecordDecrypter(AES128, secretFor(AES128), backend)
    const a = new Uint8Array(3000).fill(1)
    const b = new Uint8Array(5000).fill(2)
    const whole = new Uint8Array(8000)
    whole.set(a)
    whole.set(b, 3000)
    const fromPieces = enc.encrypt(ContentType.Handshake, [a, b], 3)
    const parts: Uint8Array[] = []
    enc.encryptParts(ContentType.ApplicationData, whole, 2, parts)
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      joined.set(p, at)
      at += p.length
    }
    for (const [rec, type] of [
      [fromPieces, ContentType.Handshake],
      [joined, ContentType.ApplicationData],
    ] as const) {
      const opened = dec.decrypt(...split(rec))
      assert.equal(opened.type, type)
      assert.equal(toHex(opened.content), toHex(whole))
    }
  })

  test(`RFC 8448 §3: application data and alert records, both directions (${backend})`, () => {
    const client = v('"tls13 c ap traffic"', 'expanded')
    const server = v('"tls13 s ap traffic"', 'expanded')
    // The server's first record under its application key is the NewSessionTicket.
    const cases = [
      ['{client}  send application_data record', client, 0, ContentType.ApplicationData],
      ['{server}  send application_data record', server, 1, ContentType.ApplicationData],
      ['{client}  send alert record', client, 1, ContentType.Alert],
      ['{server}  send alert record', server, 2, ContentType.Alert],
    ] as const
    for (const [heading, secret, seq, type] of cases) {
      const payload = v(heading, 'payload')
      const complete = v(heading, 'complete record')
      const enc = new RecordEncrypter(AES128, secret, backend)
      enc.seq = seq
      assert.equal(toHex(enc.encrypt(type, payload)), toHex(complete), heading)
      const dec = new RecordDecrypter(AES128, secret, backend)
      dec.seq = seq
      const opened = dec.decrypt(...split(complete))
      assert.equal(opened.type, type)
      assert.equal(toHex(opened.content), toHex(payload))
    }
  })

  test(`RecordDecrypter: any single-bit flip of a record is bad_record_mac (${backend})`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SUITES),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        (suite, content, bit) => {
          const rec = new RecordEncrypter(suite, secretFor(suite, 3), backend).encrypt(
            ContentType.ApplicationData,
            content,
          )
          // Header bytes 1..4 and the body: byte 0 (the type) is checked by the deframer.
          const at = 8 + (bit % ((rec.length - 1) * 8))
          rec[at >>> 3] = (rec[at >>> 3] as number) ^ (1 << (at & 7))
          const dec = new RecordDecrypter(suite, secretFor(suite, 3), backend)
          assert.throws(() => dec.decrypt(...split(rec)), isAlert(AlertDescription.BadRecordMac))
        },
      ),
      { numRuns: 300 },
    )
  })

  test(`RecordDecrypter rejects reordered, short and malformed records (${backend})`, () => {
    const enc = new RecordEncrypter(AES128, secretFor(AES128), backend)
    const first = enc.encrypt(ContentType.ApplicationData, new Uint8Array([1]))
    const second = enc.encrypt(ContentType.ApplicationData, new Uint8Array([2]))
    const fresh = (): RecordDecrypter => new RecordDecrypter(AES128, secretFor(AES128), backend)
    // Out of order: the nonce is the sequence number (RFC 8446 §5.3).
    assert.throws(() => fresh().decrypt(...split(second)), isAlert(AlertDescription.BadRecordMac))
    // Shorter than a tag plus the type byte.
    assert.throws(
      () => fresh().decrypt(first.subarray(0, 5), new Uint8Array(16)),
      isAlert(AlertDescription.BadRecordMac),
    )
    // All-zero inner plaintext: no content type (RFC 8446 §5.4).
    const padOnly = enc.encrypt(0 as ContentType, new Uint8Array(0), 10)
    const d = fresh()
    d.seq = 2
    assert.throws(() => d.decrypt(...split(padOnly)), isAlert(AlertDescription.UnexpectedMessage))
    // Inner plaintext over 2^14 + 1 bytes (RFC 8446 §5.2).
    const big = enc.encrypt(ContentType.ApplicationData, new Uint8Array(16385).fill(1))
    const d2 = fresh()
    d2.seq = 3
    assert.throws(() => d2.decrypt(...split(big)), isAlert(AlertDescription.RecordOverflow))
  })

  test(`KeyUpdate keeps both sides in step and retires the old key (${backend})`, () => {
    for (const suite of SUITES) {
      const enc = new RecordEncrypter(suite, secretFor(suite), backend)
      const dec = new RecordDecrypter(suite, secretFor(suite), backend)
      dec.decrypt(...split(enc.encrypt(ContentType.ApplicationData, new Uint8Array([1]))))
      const oldKey = new RecordEncrypter(suite, secretFor(suite), backend)
      oldKey.seq = 1
      enc.update()
      dec.update()
      assert.equal(enc.seq, 0)
      const rec = enc.encrypt(ContentType.ApplicationData, new Uint8Array([2]))
      assert.deepEqual([...dec.decrypt(...split(rec)).content], [2])
      const stale = oldKey.encrypt(ContentType.ApplicationData, new Uint8Array([3]))
      assert.throws(() => dec.decrypt(...split(stale)), isAlert(AlertDescription.BadRecordMac))
    }
  })

  test(`drop() makes the record layer refuse further records (${backend})`, () => {
    const enc = new RecordEncrypter(AES128, secretFor(AES128), backend)
    const dec = new RecordDecrypter(AES128, secretFor(AES128), backend)
    const rec = enc.encrypt(ContentType.ApplicationData, new Uint8Array([1]))
    enc.drop()
    dec.drop()
    assert.throws(
      () => enc.encrypt(ContentType.ApplicationData, new Uint8Array([1])),
      InternalError,
    )
    assert.throws(() => dec.decrypt(...split(rec)), InternalError)
    enc.drop() // twice is fine
  })
}

if (availableBackends.includes('native')) {
  test('native and node backends seal the same records and open each other’s', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SUITES),
        fc.uint8Array({ minLength: 48, maxLength: 48 }),
        fc.array(
          fc.record({
            type: fc.constantFrom(
              ContentType.ApplicationData,
              ContentType.Handshake,
              ContentType.Alert,
            ),
            content: fc.uint8Array({ maxLength: 2000 }),
            pad: fc.nat(64),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (suite, seed, records) => {
          const secret = seed.subarray(0, suite.hashLen)
          const sides = (['native', 'node'] as CryptoBackend[]).map((b) => ({
            enc: new RecordEncrypter(suite, secret, b),
            dec: new RecordDecrypter(suite, secret, b),
          }))
          const [n, o] = sides as [(typeof sides)[0], (typeof sides)[0]]
          for (const r of records) {
            const a = n.enc.encrypt(r.type, r.content, r.pad)
            const b = o.enc.encrypt(r.type, r.content, r.pad)
            assert.equal(toHex(a), toHex(b))
            assert.equal(toHex(o.dec.decrypt(...split(a)).content), toHex(r.content))
            assert.equal(toHex(n.dec.decrypt(...split(b)).content), toHex(r.content))
          }
        },
      ),
      { numRuns: 150 },
    )
  })

  test('native decrypt in place: the content is a view of the fragment; a bad tag leaves it zeroed', () => {
    const enc = new RecordEncrypter(AES128, secretFor(AES128), 'native')
    const dec = new RecordDecrypter(AES128, secretFor(AES128), 'native')
    const rec = enc.encrypt(ContentType.ApplicationData, new Uint8Array([5, 6, 7]))
    const [h, f] = split(rec)
    const opened = dec.decrypt(h, f, true)
    assert.deepEqual([...opened.content], [5, 6, 7])
    assert.equal(opened.content.buffer, rec.buffer)
    assert.equal(opened.content.byteOffset, 5)
    const bad = enc.encrypt(ContentType.ApplicationData, new Uint8Array([8, 9, 10]))
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x80
    const [bh, bf] = split(bad)
    assert.throws(() => dec.decrypt(bh, bf, true), isAlert(AlertDescription.BadRecordMac))
    // No unauthenticated plaintext is left where the ciphertext was.
    assert.ok(bf.subarray(0, bf.length - 16).every((x) => x === 0))
  })
}
