/**
 * ServerConnection through its sans-I/O API with a test client: the handshake,
 * and the alert chosen for each misbehaviour (tls-testing.md tables: tlsfuzzer's
 * expectations), plus KeyUpdate, HRR consistency and refused 0-RTT.
 */
import { before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Writer, concat } from '@outpost/wire'
import { AlertDescription, ContentType, ExtensionType, HandshakeType } from '../src/constants.ts'
import { ServerConnection } from '../src/server/machine.ts'
import type { TlsServerConfig } from '../src/server/config.ts'
import { plaintextRecord } from '../src/record/record-layer.ts'
import { encodeKeyUpdate } from '../src/messages/server-messages.ts'
import { decodeServerHello } from '../src/messages/server-hello.ts'
import { encodeKeyShareClient } from '../src/messages/extensions.ts'
import { TestClient, lastAlert, type ClientOptions } from './helpers/client.ts'
import { testCertificates } from './helpers/certs.ts'

let config: TlsServerConfig

before(async () => {
  config = { certificates: (await testCertificates()).source }
})

async function signIfAsked(conn: ServerConnection): Promise<void> {
  const req = conn.signRequest
  if (req) conn.provideSignature(await req.signer.sign(req.scheme, req.content))
}

/** Runs the server's first flight; returns the pair ready for the client's Finished. */
async function toServerFinished(
  opts: ClientOptions = {},
  cfg = config,
): Promise<{ conn: ServerConnection; client: TestClient }> {
  const conn = new ServerConnection(cfg)
  const client = new TestClient({ serverName: 'test.example', ...opts })
  conn.receive(client.clientHello().record)
  client.receive(conn.takeOutput())
  await signIfAsked(conn)
  client.receive(conn.takeOutput())
  return { conn, client }
}

async function established(
  opts: ClientOptions = {},
): Promise<{ conn: ServerConnection; client: TestClient }> {
  const pair = await toServerFinished(opts)
  pair.conn.receive(pair.client.finished())
  pair.client.receive(pair.conn.takeOutput())
  assert.equal(pair.conn.isHandshakeComplete, true)
  return pair
}

function expectAlert(conn: ServerConnection, client: TestClient, alert: number): void {
  client.receive(conn.takeOutput())
  assert.equal(lastAlert(client), alert)
  assert.equal(conn.stateKind, 'Closed')
  assert.notEqual(conn.error, undefined)
}

function rejectClientHello(opts: ClientOptions, alert: number): void {
  const conn = new ServerConnection(config)
  const client = new TestClient({ serverName: 'test.example', ...opts })
  conn.receive(client.clientHello().record)
  expectAlert(conn, client, alert)
  assert.equal(conn.signRequest, undefined)
}

describe('ServerConnection handshake', () => {
  test('completes a handshake, sends two tickets and exchanges data both ways', async () => {
    const { conn, client } = await established()
    assert.equal(client.messages.filter((m) => m === HandshakeType.NewSessionTicket).length, 2)
    conn.write(new TextEncoder().encode('hello client'))
    client.receive(conn.takeOutput())
    assert.equal(new TextDecoder().decode(client.appData.at(-1)), 'hello client')
    conn.receive(client.seal(ContentType.ApplicationData, new TextEncoder().encode('hello server')))
    assert.equal(new TextDecoder().decode(concat(...conn.takePlaintext())), 'hello server')
  })

  test('answers KeyUpdate(update_requested) at once and keeps reading under the new keys', async () => {
    const { conn, client } = await established()
    conn.receive(client.seal(ContentType.Handshake, encodeKeyUpdate(1)))
    client.writer?.update()
    const out = client.receive(conn.takeOutput())
    assert.ok(
      out.some((r) => r.type === ContentType.Handshake && r.content[0] === HandshakeType.KeyUpdate),
    )
    conn.receive(client.seal(ContentType.ApplicationData, new Uint8Array([7])))
    assert.deepEqual(concat(...conn.takePlaintext()), new Uint8Array([7]))
    conn.write(new Uint8Array([8]))
    client.receive(conn.takeOutput())
    assert.deepEqual(new Uint8Array(client.appData.at(-1)!), new Uint8Array([8]))
  })

  test('pads protected records to the configured block size', async () => {
    const pair = await toServerFinished({}, { ...config, recordPadding: { blockBytes: 256 } })
    pair.conn.receive(pair.client.finished())
    pair.client.receive(pair.conn.takeOutput())
    pair.conn.write(new Uint8Array([1, 2, 3]))
    const rec = concat(...pair.conn.takeOutput())
    // 5-byte header, 256 bytes of inner plaintext (3 + type + 252 zeros), 16-byte tag.
    assert.equal(rec.length, 5 + 256 + 16)
    pair.client.receive([rec])
    assert.deepEqual(new Uint8Array(pair.client.appData.at(-1)!), new Uint8Array([1, 2, 3]))
  })

  test('a record between the pieces of a fragmented KeyUpdate gives unexpected_message', async () => {
    const { conn, client } = await established()
    const ku = encodeKeyUpdate(1)
    conn.receive(client.seal(ContentType.Handshake, ku.subarray(0, 3)))
    conn.receive(client.seal(ContentType.ApplicationData, new Uint8Array([1])))
    expectAlert(conn, client, AlertDescription.UnexpectedMessage)
  })

  test('limits floods of KeyUpdate and empty records with unexpected_message', async () => {
    const { conn, client } = await established()
    for (let i = 0; i < 100 && conn.error === undefined; i++) {
      conn.receive(client.seal(ContentType.ApplicationData, new Uint8Array(0)))
    }
    expectAlert(conn, client, AlertDescription.UnexpectedMessage)
  })
})

describe('ServerConnection rejects bad ClientHellos with the right alert', () => {
  test('legacy_version (3,0) gives protocol_version', () => {
    rejectClientHello({ legacyVersion: 0x0300 }, AlertDescription.ProtocolVersion)
  })
  test('a TLS 1.2-only client gives protocol_version', () => {
    rejectClientHello(
      { editExtensions: (e) => e.filter((x) => x.type !== ExtensionType.SupportedVersions) },
      AlertDescription.ProtocolVersion,
    )
  })
  test('an empty x25519 key share gives illegal_parameter', () => {
    rejectClientHello(
      {
        editExtensions: (e) =>
          e.map((x) =>
            x.type === ExtensionType.KeyShare
              ? {
                  type: x.type,
                  data: encodeKeyShareClient([{ group: 0x001d, keyExchange: new Uint8Array(0) }]),
                }
              : x,
          ),
      },
      AlertDescription.IllegalParameter,
    )
  })
  test('an all-zero x25519 key share gives illegal_parameter', () => {
    rejectClientHello(
      {
        editExtensions: (e) =>
          e.map((x) =>
            x.type === ExtensionType.KeyShare
              ? {
                  type: x.type,
                  data: encodeKeyShareClient([{ group: 0x001d, keyExchange: new Uint8Array(32) }]),
                }
              : x,
          ),
      },
      AlertDescription.IllegalParameter,
    )
  })
  test('a duplicated extension gives illegal_parameter', () => {
    rejectClientHello(
      {
        editExtensions: (e) => [
          ...e,
          { type: 0x1234, data: new Uint8Array(0) },
          { type: 0x1234, data: new Uint8Array(0) },
        ],
      },
      AlertDescription.IllegalParameter,
    )
  })
  test('no key_share gives missing_extension', () => {
    rejectClientHello(
      { editExtensions: (e) => e.filter((x) => x.type !== ExtensionType.KeyShare) },
      AlertDescription.MissingExtension,
    )
  })
  test('obsolete groups are ignored: alone they give handshake_failure, mixed they are skipped', async () => {
    rejectClientHello(
      { supportedGroups: [0x0013, 0x001a], keyShareGroups: [] },
      AlertDescription.HandshakeFailure,
    )
    const { conn } = await toServerFinished({ supportedGroups: [0x0013, 0x001d] })
    assert.equal(conn.error, undefined)
    assert.equal(conn.getInfo()?.group, 'x25519')
  })
  test('no common cipher suite gives handshake_failure', () => {
    rejectClientHello({ cipherSuites: [0x1304, 0xc02f] }, AlertDescription.HandshakeFailure)
  })
  test('an unknown server name gives unrecognized_name before any signature', () => {
    rejectClientHello({ serverName: 'nobody.example' }, AlertDescription.UnrecognizedName)
  })
  test('a server name with a trailing dot gives illegal_parameter', () => {
    rejectClientHello({ serverName: 'test.example.' }, AlertDescription.IllegalParameter)
  })
  test('ALPN without overlap gives no_application_protocol', () => {
    const conn = new ServerConnection({ ...config, alpnProtocols: ['h2'] })
    const client = new TestClient({ serverName: 'test.example', alpn: ['spdy/3'] })
    conn.receive(client.clientHello().record)
    expectAlert(conn, client, AlertDescription.NoApplicationProtocol)
  })
  test('a truncated ClientHello body gives decode_error', () => {
    const conn = new ServerConnection(config)
    const client = new TestClient()
    const { message } = client.clientHello()
    const cut = message.slice(0, 60)
    cut[1] = 0
    cut[2] = 0
    cut[3] = 56
    conn.receive(plaintextRecord(ContentType.Handshake, cut))
    expectAlert(conn, client, AlertDescription.DecodeError)
  })
})

describe('ServerConnection record layer rules', () => {
  test('a change_cipher_spec before the ClientHello gives unexpected_message', () => {
    const conn = new ServerConnection(config)
    conn.receive(plaintextRecord(ContentType.ChangeCipherSpec, new Uint8Array([1])))
    expectAlert(conn, new TestClient(), AlertDescription.UnexpectedMessage)
  })

  test('one change_cipher_spec before Finished is dropped; a second gives unexpected_message', async () => {
    const ok = await toServerFinished({ sessionId: new Uint8Array(32).fill(9) })
    ok.conn.receive(plaintextRecord(ContentType.ChangeCipherSpec, new Uint8Array([1])))
    ok.conn.receive(ok.client.finished())
    assert.equal(ok.conn.isHandshakeComplete, true)
    const bad = await toServerFinished({ sessionId: new Uint8Array(32).fill(9) })
    bad.conn.receive(plaintextRecord(ContentType.ChangeCipherSpec, new Uint8Array([1])))
    bad.conn.receive(plaintextRecord(ContentType.ChangeCipherSpec, new Uint8Array([1])))
    expectAlert(bad.conn, bad.client, AlertDescription.UnexpectedMessage)
  })

  test('echoes the session id and sends one CCS in middlebox compatibility mode', () => {
    const conn = new ServerConnection(config)
    const client = new TestClient({
      serverName: 'test.example',
      sessionId: new Uint8Array(32).fill(5),
    })
    conn.receive(client.clientHello().record)
    const recs = client.receive(conn.takeOutput())
    assert.equal(recs.filter((r) => r.type === ContentType.ChangeCipherSpec).length, 1)
    assert.equal(recs[1]?.type, ContentType.ChangeCipherSpec)
    const sh = decodeServerHello(recs[0]!.content.subarray(4))
    assert.deepEqual(sh.legacySessionIdEcho, new Uint8Array(32).fill(5))
  })

  test('a plaintext record over 2^14 bytes gives record_overflow', () => {
    const conn = new ServerConnection(config)
    conn.receive(plaintextRecord(ContentType.Handshake, new Uint8Array(16385)))
    expectAlert(conn, new TestClient(), AlertDescription.RecordOverflow)
  })

  test('Finished padded to exactly 2^14 + 1 bytes of inner plaintext is accepted', async () => {
    const { conn, client } = await toServerFinished()
    const fin = client.finished()
    // Re-seal the same Finished with maximal padding: rebuild from a fresh pair instead.
    assert.ok(fin.length > 0)
    const p2 = await toServerFinished()
    const vd = p2.client.hs!.clientFinished(p2.client.serverFinishedHash)
    const msg = new Writer().u8(HandshakeType.Finished).vec24(vd).finish()
    const padded = p2.client.writer!.encrypt(ContentType.Handshake, msg, 16385 - msg.length - 1)
    p2.conn.receive(padded)
    assert.equal(p2.conn.isHandshakeComplete, true)
    conn.abort(new (await import('../src/errors.ts')).ConnectionClosedError('done'))
  })

  test('padding beyond 2^14 + 1 bytes of inner plaintext gives record_overflow', async () => {
    const { conn, client } = await toServerFinished()
    const vd = client.hs!.clientFinished(client.serverFinishedHash)
    const msg = new Writer().u8(HandshakeType.Finished).vec24(vd).finish()
    conn.receive(client.writer!.encrypt(ContentType.Handshake, msg, 16386 - msg.length - 1))
    expectAlert(conn, client, AlertDescription.RecordOverflow)
  })

  test('a wrong Finished gives decrypt_error', async () => {
    const { conn, client } = await toServerFinished()
    conn.receive(client.finished(true))
    expectAlert(conn, client, AlertDescription.DecryptError)
  })

  test('an oversized Finished gives decode_error', async () => {
    const { conn, client } = await toServerFinished()
    const msg = new Writer().u8(HandshakeType.Finished).vec24(new Uint8Array(33)).finish()
    conn.receive(client.seal(ContentType.Handshake, msg))
    expectAlert(conn, client, AlertDescription.DecodeError)
  })

  test('an empty encrypted alert gives unexpected_message; a bad tag gives bad_record_mac', async () => {
    const a = await established()
    a.conn.receive(a.client.seal(ContentType.Alert, new Uint8Array(0)))
    expectAlert(a.conn, a.client, AlertDescription.UnexpectedMessage)
    const b = await established()
    const rec = b.client.seal(ContentType.ApplicationData, new Uint8Array([1, 2, 3]))
    rec[rec.length - 1] = (rec[rec.length - 1] as number) ^ 0x80
    b.conn.receive(rec)
    expectAlert(b.conn, b.client, AlertDescription.BadRecordMac)
  })

  test('application data before the handshake completes gives unexpected_message', async () => {
    const { conn, client } = await toServerFinished()
    conn.receive(client.seal(ContentType.ApplicationData, new Uint8Array([1])))
    expectAlert(conn, client, AlertDescription.UnexpectedMessage)
  })

  test('refused 0-RTT records are skipped when the client offered early_data', async () => {
    const conn = new ServerConnection(config)
    const client = new TestClient({
      serverName: 'test.example',
      editExtensions: (e) => [...e, { type: ExtensionType.EarlyData, data: new Uint8Array(0) }],
    })
    conn.receive(client.clientHello().record)
    // Early data under keys the server does not have: garbage that looks like records.
    conn.receive(concat(new Uint8Array([23, 3, 3, 0, 40]), new Uint8Array(40).fill(0xab)))
    conn.receive(concat(new Uint8Array([23, 3, 3, 0, 40]), new Uint8Array(40).fill(0xcd)))
    client.receive(conn.takeOutput())
    await signIfAsked(conn)
    client.receive(conn.takeOutput())
    conn.receive(client.finished())
    assert.equal(conn.error, undefined)
    assert.equal(conn.isHandshakeComplete, true)
  })
})

describe('ServerConnection HelloRetryRequest', () => {
  const hrrOpts: ClientOptions = {
    serverName: 'test.example',
    keyShareGroups: [0x0017],
    supportedGroups: [0x0017, 0x001d],
  }
  // The client helper can only make x25519 shares; offering a P-256 "share" of x25519 bytes is
  // never used: the server's preference (x25519 in supported_groups, no share) triggers HRR.
  const cfg = (): TlsServerConfig => ({ ...config, groups: [0x001d] })

  function start(): { conn: ServerConnection; client: TestClient } {
    const conn = new ServerConnection(cfg())
    const client = new TestClient(hrrOpts)
    conn.receive(client.clientHello().record)
    client.receive(conn.takeOutput())
    assert.equal(client.helloRetry?.group, 0x001d)
    assert.ok(client.helloRetry.cookie)
    return { conn, client }
  }

  test('completes after a correct second ClientHello', async () => {
    const { conn, client } = start()
    conn.receive(client.clientHello2())
    client.receive(conn.takeOutput())
    await signIfAsked(conn)
    client.receive(conn.takeOutput())
    conn.receive(client.finished())
    assert.equal(conn.isHandshakeComplete, true)
    assert.equal(conn.getInfo()?.helloRetry, true)
  })

  test('a second ClientHello with reordered extensions gives illegal_parameter', () => {
    const { conn, client } = start()
    conn.receive(client.clientHello2((e) => [e[1]!, e[0]!, ...e.slice(2)]))
    expectAlert(conn, client, AlertDescription.IllegalParameter)
  })

  test('a second ClientHello with an altered cookie gives illegal_parameter', () => {
    const { conn, client } = start()
    conn.receive(
      client.clientHello2((e) =>
        e.map((x) => {
          if (x.type !== ExtensionType.Cookie) return x
          const d = x.data.slice()
          d[d.length - 1] = (d[d.length - 1] as number) ^ 1
          return { type: x.type, data: d }
        }),
      ),
    )
    expectAlert(conn, client, AlertDescription.IllegalParameter)
  })

  test('a second ClientHello with a changed extension gives illegal_parameter', () => {
    const { conn, client } = start()
    conn.receive(
      client.clientHello2((e) =>
        e.map((x) =>
          x.type === ExtensionType.SignatureAlgorithms
            ? { type: x.type, data: new Uint8Array([0, 2, 4, 3]) }
            : x,
        ),
      ),
    )
    expectAlert(conn, client, AlertDescription.IllegalParameter)
  })

  test('a second ClientHello without the requested share gives illegal_parameter', () => {
    const { conn, client } = start()
    conn.receive(
      client.clientHello2((e) =>
        e.map((x) =>
          x.type === ExtensionType.KeyShare
            ? { type: x.type, data: client.baseShares([0x0017]) }
            : x,
        ),
      ),
    )
    expectAlert(conn, client, AlertDescription.IllegalParameter)
  })
})
