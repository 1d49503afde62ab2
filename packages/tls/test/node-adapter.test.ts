/**
 * The Node adapter's own duties: handshake timeout, prompt close after a fatal
 * alert (alert first, then the socket goes), close_notify on end(), and
 * synchronous signers (signNow).
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect as netConnect, createServer, type AddressInfo, type Server } from 'node:net'
import { connect, type TLSSocket } from 'node:tls'
import { once } from 'node:events'
import { createTlsServer } from '../src/node/server.ts'
import { accept, ipBytes } from '../src/node/connection.ts'
import { StaticCertificateSource, certificatesFromPem } from '../src/certificates.ts'
import type { Signer } from '../src/signer.ts'
import { testCertificates, type TestPki } from './helpers/certs.ts'

let pki: TestPki
let server: Server
let port: number
const errors: unknown[] = []

before(async () => {
  pki = await testCertificates()
  server = createTlsServer({ certificates: pki.source, handshakeTimeoutMs: 300 }, (conn) => {
    conn.end('bye')
  })
  server.on('tlsClientError', (e: unknown) => errors.push(e))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  port = (server.address() as AddressInfo).port
})
after(() => {
  server.close()
})

/** A Node TLS client for test.example on `listening` (a server) or a port, trusting the test CA. */
function connectClient(listening: Server | number): TLSSocket {
  return connect({
    host: '127.0.0.1',
    port: typeof listening === 'number' ? listening : (listening.address() as AddressInfo).port,
    servername: 'test.example',
    ca: pki.ecdsaCa.certPem,
  })
}

function rawSession(send?: Uint8Array): Promise<{ data: Buffer; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const chunks: Buffer[] = []
    const s = netConnect(port, '127.0.0.1', () => {
      if (send) s.write(send)
    })
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('error', () => undefined)
    s.on('close', () => {
      resolve({ data: Buffer.concat(chunks), ms: Date.now() - t0 })
    })
  })
}

test('accept() closes a silent connection at the handshake timeout', async () => {
  const { data, ms } = await rawSession()
  assert.equal(data.length, 0)
  assert.ok(ms >= 250 && ms < 3000, `closed after ${ms} ms`)
})

test('accept() sends the alert and closes promptly on a non-TLS client', async () => {
  const { data, ms } = await rawSession(
    new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
  )
  // 'G' (0x47) is no content type: a plaintext unexpected_message alert.
  assert.deepEqual([...data], [21, 3, 3, 0, 2, 2, 10])
  assert.ok(ms < 1000, `closed after ${ms} ms`)
})

test('end() sends close_notify after the data', async () => {
  const s = connectClient(port)
  let text = ''
  s.setEncoding('utf8')
  s.on('data', (d: string) => (text += d))
  await once(s, 'end')
  assert.equal(text, 'bye')
  s.destroy()
})

test('ipBytes() turns textual addresses into 4 or 16 bytes', () => {
  assert.deepEqual(ipBytes('127.0.0.1'), new Uint8Array([127, 0, 0, 1]))
  assert.deepEqual(ipBytes('::ffff:10.1.2.3'), new Uint8Array([10, 1, 2, 3]))
  assert.deepEqual(ipBytes('::1'), new Uint8Array([...new Array<number>(15).fill(0), 1]))
  assert.deepEqual(
    ipBytes('2001:db8::8:1')?.subarray(0, 4),
    new Uint8Array([0x20, 0x01, 0x0d, 0xb8]),
  )
  assert.equal(ipBytes('not-an-ip'), undefined)
})

test('signNow is used instead of sign when a signer has it; a throwing signNow ends in internal_error', async () => {
  const chain = certificatesFromPem(pki.ecdsa.certPem)
  const key = pki.ecdsaSigner
  const calls = { now: 0, async: 0 }
  const make = (fail: boolean): Signer => ({
    schemes: key.schemes,
    sign: (scheme, content) => {
      calls.async++
      return key.sign(scheme, content)
    },
    signNow: (scheme, content) => {
      calls.now++
      if (fail) throw new Error('HSM unplugged')
      return key.signNow?.(scheme, content) ?? new Uint8Array(0)
    },
  })
  for (const fail of [false, true]) {
    const srv = createTlsServer(
      { certificates: new StaticCertificateSource([{ chain, signer: make(fail) }]) },
      (conn) => conn.end('ok'),
    )
    srv.on('tlsClientError', () => undefined)
    srv.listen(0, '127.0.0.1')
    await once(srv, 'listening')
    const s = connectClient(srv)
    if (fail) {
      const [err] = (await once(s, 'error')) as [Error]
      assert.match(err.message, /internal error|alert number 80/i)
    } else {
      let text = ''
      s.setEncoding('utf8')
      s.on('data', (d: string) => (text += d))
      await once(s, 'end')
      assert.equal(text, 'ok')
    }
    s.destroy()
    srv.close()
  }
  assert.deepEqual(calls, { now: 2, async: 0 })
})

test('strings written in any encoding arrive as their bytes, before and after the handshake, corked or not', async () => {
  const big = 'ü€'.repeat(7000) // 35,000 UTF-8 bytes: more than the scratch array and a record
  const expected = Buffer.concat([
    Buffer.from('early ', 'latin1'),
    Buffer.from('Grüße €', 'utf8'),
    Buffer.from('caf\u00e9', 'latin1'),
    Buffer.from('68656c6c6f', 'hex'),
    Buffer.from('d29ybGQ=', 'base64'),
    Buffer.from([1, 2, 3]),
    Buffer.from(big, 'utf8'),
    Buffer.from('ü'.repeat(6000), 'latin1'),
    Buffer.from('end', 'utf8'),
  ])
  const raw = createServer((socket) => {
    const conn = accept(socket, { certificates: pki.source })
    conn.write('early ', 'latin1') // before the handshake: queued
    conn.once('secure', () => {
      conn.cork()
      conn.write('Grüße €', 'utf8')
      conn.write('caf\u00e9', 'latin1')
      conn.write('68656c6c6f', 'hex')
      conn.write('d29ybGQ=', 'base64')
      conn.write(new Uint8Array([1, 2, 3]))
      conn.uncork()
      conn.write(big, 'utf8')
      conn.write('ü'.repeat(6000), 'latin1')
      conn.end('end', 'utf8')
    })
  })
  raw.listen(0, '127.0.0.1')
  await once(raw, 'listening')
  const s = connectClient(raw)
  const chunks: Buffer[] = []
  s.on('data', (d: Buffer) => chunks.push(d))
  await once(s, 'end')
  s.destroy()
  raw.close()
  assert.equal(Buffer.concat(chunks).toString('hex'), expected.toString('hex'))
})
