/** RemoteSigner over a loopback key server, in both modes. */
import assert from 'node:assert/strict'
import { createHash, verify } from 'node:crypto'
import { after, before, test } from 'node:test'
import { SignatureScheme } from '@outpost/tls'
import { concat } from '@outpost/wire'
import {
  ErrorCode,
  KeylessClient,
  KeylessProtocolError,
  KeylessRemoteError,
  KeylessSchemeError,
  Op,
  RemoteSigner,
} from '../src/index.ts'
import {
  clientCredentials,
  ecdsaKey,
  ed25519Key,
  makePki,
  signingHandler,
  startServer,
  type Operation,
  type SigningKey,
  type TestServer,
} from './harness.ts'

let server: TestServer
let client: KeylessClient
let ec: SigningKey
let ed: SigningKey
const seen: Operation[] = []

before(async () => {
  const pki = await makePki()
  ec = ecdsaKey()
  ed = ed25519Key()
  const handler = signingHandler([ec, ed])
  server = await startServer(pki, {
    handler: (op, peer, signal) => {
      seen.push(op)
      return handler(op, peer, signal)
    },
  })
  client = new KeylessClient({
    servers: [{ host: '127.0.0.1', port: server.port }],
    ...clientCredentials(pki),
  })
})

after(async () => {
  await client.close()
  await server.close()
})

// RFC 8446 §4.4.3: 64 spaces, the server context string, 0x00, the transcript hash.
function certificateVerifyContent(hashLength: number): Uint8Array {
  return concat(
    new Uint8Array(64).fill(0x20),
    new TextEncoder().encode('TLS 1.3, server CertificateVerify'),
    Uint8Array.of(0),
    createHash('sha512').update(String(Math.random())).digest().subarray(0, hashLength),
  )
}

test("RemoteSigner.sign() in 'context' mode sends SignTls13 with the scheme, SNI and client IP", async () => {
  const signer = new RemoteSigner({
    client,
    ski: ec.ski,
    schemes: [SignatureScheme.ecdsa_secp256r1_sha256],
  })
  const content = certificateVerifyContent(32)
  const ip = Uint8Array.of(198, 51, 100, 7)
  const sig = await signer.sign(SignatureScheme.ecdsa_secp256r1_sha256, content, {
    serverName: 'example.com',
    clientIp: ip,
  })
  assert.ok(verify('sha256', content, ec.publicKey, sig))
  const op = seen.at(-1)
  assert.ok(op !== undefined)
  assert.equal(op.opcode, Op.SignTls13)
  assert.equal(op.signatureScheme, SignatureScheme.ecdsa_secp256r1_sha256)
  assert.deepEqual(op.payload, content)
  assert.equal(op.serverName, 'example.com')
  assert.deepEqual(op.clientIp, ip)
})

test("RemoteSigner.sign() in 'context' mode signs Ed25519", async () => {
  const signer = new RemoteSigner({
    client,
    ski: ed.ski,
    schemes: [SignatureScheme.ed25519],
    publicKey: ed.publicKey,
  })
  const content = certificateVerifyContent(48)
  const sig = await signer.sign(SignatureScheme.ed25519, content)
  assert.equal(sig.length, 64)
  assert.ok(verify(null, content, ed.publicKey, sig))
})

test('RemoteSigner.sign() surfaces the key server refusing content that is not a CertificateVerify', async () => {
  const signer = new RemoteSigner({
    client,
    ski: ec.ski,
    schemes: [SignatureScheme.ecdsa_secp256r1_sha256],
  })
  const notCv = new Uint8Array(130).fill(0x41)
  await assert.rejects(signer.sign(SignatureScheme.ecdsa_secp256r1_sha256, notCv), (e: Error) => {
    assert.ok(e instanceof KeylessRemoteError)
    assert.equal(e.remoteCode, ErrorCode.BadContext)
    return true
  })
})

test("RemoteSigner.sign() in 'digest' mode hashes locally and uses the v1 opcodes", async () => {
  const ecdsa = new RemoteSigner({
    client,
    ski: ec.ski,
    schemes: [SignatureScheme.ecdsa_secp256r1_sha256],
    mode: 'digest',
  })
  const content = certificateVerifyContent(32)
  const sig = await ecdsa.sign(SignatureScheme.ecdsa_secp256r1_sha256, content)
  assert.ok(verify('sha256', content, ec.publicKey, sig))
  assert.equal(seen.at(-1)?.opcode, Op.EcdsaSignSha256)
  assert.deepEqual(
    seen.at(-1)?.payload,
    new Uint8Array(createHash('sha256').update(content).digest()),
  )

  const eddsa = new RemoteSigner({
    client,
    ski: ed.ski,
    schemes: [SignatureScheme.ed25519],
    mode: 'digest',
  })
  const edSig = await eddsa.sign(SignatureScheme.ed25519, content)
  assert.ok(verify(null, content, ed.publicKey, edSig))
  assert.equal(seen.at(-1)?.opcode, Op.Ed25519Sign)
  assert.deepEqual(seen.at(-1)?.payload, content)
})

test('RemoteSigner.sign() rejects schemes it was not configured for', async () => {
  const signer = new RemoteSigner({
    client,
    ski: ec.ski,
    schemes: [SignatureScheme.ecdsa_secp256r1_sha256],
  })
  await assert.rejects(
    signer.sign(SignatureScheme.ed25519, certificateVerifyContent(32)),
    KeylessSchemeError,
  )
  assert.throws(
    () =>
      new RemoteSigner({
        client,
        ski: ec.ski,
        schemes: [SignatureScheme.rsa_pkcs1_sha256],
        mode: 'digest',
      }),
    KeylessSchemeError,
  )
  assert.throws(() => new RemoteSigner({ client, ski: new Uint8Array(19), schemes: [] }), TypeError)
})

test('RemoteSigner.sign() with a publicKey rejects a signature made by another key', async () => {
  // The server signs with `ec`; the signer expects a different key.
  const other = ecdsaKey()
  const signer = new RemoteSigner({
    client,
    ski: ec.ski,
    schemes: [SignatureScheme.ecdsa_secp256r1_sha256],
    publicKey: other.publicKey,
  })
  await assert.rejects(
    signer.sign(SignatureScheme.ecdsa_secp256r1_sha256, certificateVerifyContent(32)),
    KeylessProtocolError,
  )
})

test('RemoteSigner.sign() reports an unknown key as KeyNotFound', async () => {
  const signer = new RemoteSigner({
    client,
    ski: new Uint8Array(20),
    schemes: [SignatureScheme.ed25519],
  })
  await assert.rejects(signer.sign(SignatureScheme.ed25519, certificateVerifyContent(32)), {
    remoteCode: ErrorCode.KeyNotFound,
  })
})
