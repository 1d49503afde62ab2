/** `outpost keyless ping | sign-test | decode` against a loopback key server. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { after, before, test } from 'node:test'
import { runCommand } from '@outpost/command'
import { issueServerCert } from '@outpost/pki'
import { createPrivateKey } from 'node:crypto'
import { toHex } from '@outpost/wire'
import { keylessCommand, parseServer } from '../src/cli.ts'
import { Op, encodeFrame } from '../src/index.ts'
import { makePki, signingHandler, signingKey, startServer, type TestServer } from './harness.ts'

let dir: string
let server: TestServer
let files: { ca: string; cert: string; key: string; site: string }

before(async () => {
  const pki = await makePki()
  // A "site" certificate whose key the test key server holds.
  const site = await issueServerCert({ ca: pki.ca, commonName: 'site', dnsNames: ['example.com'] })
  const key = signingKey(createPrivateKey(site.keyPem))
  server = await startServer(pki, { handler: signingHandler([key]) })
  dir = mkdtempSync(join(tmpdir(), 'keyless-cli-'))
  files = {
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'node.pem'),
    key: join(dir, 'node.key'),
    site: join(dir, 'site.pem'),
  }
  writeFileSync(files.ca, pki.ca.certPem)
  writeFileSync(files.cert, pki.node.certPem)
  writeFileSync(files.key, pki.node.keyPem, { mode: 0o600 })
  writeFileSync(files.site, site.certPem)
})

after(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough()
  const err = new PassThrough()
  const chunks: string[] = []
  const errs: string[] = []
  out.on('data', (c: Buffer) => chunks.push(c.toString()))
  err.on('data', (c: Buffer) => errs.push(c.toString()))
  const code = await runCommand(keylessCommand, argv, { out, err })
  return { code, out: chunks.join(''), err: errs.join('') }
}

const conn = (): string[] => [
  '--server',
  `127.0.0.1:${server.port}`,
  '--ca',
  files.ca,
  '--cert',
  files.cert,
  '--key',
  files.key,
]

test('outpost keyless ping reports round trips and the server state', async () => {
  const r = await run(['ping', ...conn(), '--count', '2'])
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /^ping 1: \d+\.\d\d ms\nping 2: \d+\.\d\d ms\n127\.0\.0\.1:\d+: up\n$/)
})

test('outpost keyless ping exits 1 when the key server is unreachable', async () => {
  const r = await run(['ping', ...conn().slice(2), '--server', '127.0.0.1:1', '--count', '1'])
  assert.equal(r.code, 1)
  assert.match(r.out, /ping 1: Cannot connect to key server 127\.0\.0\.1:1/)
})

test('outpost keyless sign-test gets and verifies a signature, in both modes', async () => {
  for (const mode of [[], ['--digest']]) {
    const r = await run(['sign-test', ...conn(), '--site-cert', files.site, ...mode])
    assert.equal(r.code, 0, r.err)
    assert.match(r.out, /^ecdsa_secp256r1_sha256 signature of 7\d bytes in [\d.]+ ms: verified\n$/)
  }
  assert.ok(server.requests.some((q) => q.opcode === Op.SignTls13))
  assert.ok(server.requests.some((q) => q.opcode === Op.EcdsaSignSha256))
})

test('outpost keyless decode prints a frame', async () => {
  const hex = toHex(encodeFrame(7, { opcode: Op.Error, payload: Uint8Array.of(2) }))
  const r = await run(['decode', hex])
  assert.equal(r.code, 0)
  assert.equal(r.out, 'version 1.0, id 7, opcode Error\n  payload: 02\n  error: KeyNotFound\n')
})

test('parseServer() reads host:port and [v6]:port and rejects the rest', () => {
  assert.deepEqual(parseServer('ks.example:2407'), { host: 'ks.example', port: 2407 })
  assert.deepEqual(parseServer('[::1]:2407', 'ks'), { host: '::1', port: 2407, servername: 'ks' })
  for (const bad of ['ks.example', 'ks:0', 'ks:70000', ':2407']) {
    assert.throws(() => parseServer(bad), /Invalid --server/)
  }
})
