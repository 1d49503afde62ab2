/** serveConnection() behind node:tls with mutual TLS, driven by a raw client. */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, test } from 'node:test'
import tls from 'node:tls'
import {
  Deframer,
  ErrorCode,
  Op,
  decodeFrame,
  encodeFrame,
  errorResponse,
  type Frame,
} from '../src/index.ts'
import { parseVector } from './vectors.ts'
import { makePki, startServer, type TestPki, type TestServer } from './harness.ts'

let pki: TestPki
let server: TestServer

before(async () => {
  pki = await makePki()
  server = await startServer(pki, { maxBodyBytes: 2048 })
})

after(async () => {
  await server.close()
})

async function connect(
  withCert = true,
): Promise<{ socket: tls.TLSSocket; frames: Frame[]; next(): Promise<Frame> }> {
  const socket = tls.connect({
    host: '127.0.0.1',
    port: server.port,
    ca: pki.ca.certPem,
    ...(withCert ? { cert: pki.node.certPem, key: pki.node.keyPem } : {}),
  })
  await once(socket, 'secureConnect')
  const frames: Frame[] = []
  const d = new Deframer()
  let wake: (() => void) | undefined
  socket.on('data', (c: Uint8Array) => {
    for (const f of d.push(c)) frames.push(decodeFrame(f))
    wake?.()
  })
  return {
    socket,
    frames,
    async next() {
      while (frames.length === 0) {
        await new Promise<void>((r) => {
          wake = r
        })
      }
      return frames.shift() as Frame
    },
  }
}

test('serveConnection() over mTLS answers a duplicate-opcode frame with Format under its ID', async () => {
  const c = await connect()
  c.socket.write(parseVector('01 00 00 08 00 00 00 4d | 11 00 01 15 | 11 00 01 15'))
  assert.deepEqual(await c.next(), {
    major: 1,
    minor: 0,
    id: 0x4d,
    op: errorResponse(ErrorCode.Format),
  })
  // The connection is still usable.
  c.socket.write(encodeFrame(78, { opcode: Op.Ping }))
  assert.deepEqual(await c.next(), { major: 1, minor: 0, id: 78, op: { opcode: Op.Pong } })
  c.socket.destroy()
})

test('serveConnection() over mTLS closes on a header announcing an oversized body', async () => {
  const c = await connect()
  c.socket.write(parseVector('01 00 0f a0 00 00 00 01'))
  await once(c.socket, 'close')
  assert.equal(c.frames.length, 0)
  assert.ok(server.events.some((e) => e.kind === 'frame-error'))
})

test('the test key server refuses a client without a certificate', async () => {
  const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca: pki.ca.certPem })
  const errors: Error[] = []
  socket.on('error', (e) => errors.push(e))
  socket.write(encodeFrame(1, { opcode: Op.Ping }))
  const got: Uint8Array[] = []
  socket.on('data', (c: Uint8Array) => got.push(c))
  await new Promise((resolve) => socket.on('close', resolve))
  assert.equal(got.length, 0)
  assert.match(errors[0]?.message ?? '', /certificate required/)
})
