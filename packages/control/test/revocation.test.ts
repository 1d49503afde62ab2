/**
 * Threat model P10 across components: revoking a node through the control
 * plane's API makes a key server (started in-process, fed through its admin
 * Unix socket) refuse that node's sign request within 1 s.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCa, issueServerCert } from '@outpost/pki'
import { KeylessClient, Op, skiOf, type Operation } from '@outpost/keyless'
import { initKeystore, SERVER_CERTIFICATE_VERIFY_PREFIX, startKeyServer } from '@outpost/keyserver'
import { startHarness } from './harness.ts'

const ECDSA_SECP256R1_SHA256 = 0x0403 // RFC 8446 §4.2.3

test('revoking a node through the API: the key server refuses its sign request within 1 s', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'control-revoke-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const ca = await createCa({ commonName: 'Test Node CA' })
  const file = (name: string, data: string | Uint8Array, mode = 0o600): string => {
    const p = join(dir, name)
    writeFileSync(p, data, { mode })
    return p
  }
  const caFile = file('ca.pem', ca.certPem, 0o644)
  const caKeyFile = file('ca-key.pem', ca.keyPem)
  const srv = await issueServerCert({
    ca,
    commonName: 'keyserver',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  })
  const shares = initKeystore(join(dir, 'keystore'), { shares: 1, threshold: 1 })
  const adminSocket = join(dir, 'ks-admin.sock')
  const ks = await startKeyServer(
    {
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      adminSocket,
      revocationsFile: join(dir, 'revoked.txt'),
      audit: { file: join(dir, 'audit.jsonl') },
      tls: {
        certFile: file('srv.pem', srv.certPem),
        keyFile: file('srv-key.pem', srv.keyPem),
        caFile,
      },
      keystore: { type: 'directory', dir: join(dir, 'keystore') },
      log: { level: 'silent' },
    },
    { env: {}, handleSighup: false, warn: () => undefined },
  )
  t.after(() => ks.close())
  ks.unseal(shares[0] ?? '')
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  ks.importKey(Buffer.from(pair.privateKey.export({ format: 'pem', type: 'pkcs8' })))
  const ski = skiOf(pair.publicKey)

  const h = await startHarness({
    nodeCa: { certFile: caFile, keyFile: caKeyFile },
    keyServers: [{ adminSocket }],
  })
  t.after(() => h.close())
  await h.call('PUT', '/v1/regions/eu-central', { name: 'Frankfurt', country: 'DE' })
  const creds = await h.enrol('edge-7', 'eu-central')

  const client = new KeylessClient({
    servers: [{ host: '127.0.0.1', port: ks.address.port, servername: 'localhost' }],
    ca: ca.certPem,
    cert: creds.certPem,
    key: new Uint8Array(creds.keyPem),
    operationTimeoutMs: 2000,
    reconnectBaseMs: 50,
    reconnectMaxMs: 200,
  })
  t.after(() => client.close())
  const sign = (): Operation => ({
    opcode: Op.SignTls13,
    ski,
    payload: new Uint8Array([...SERVER_CERTIFICATE_VERIFY_PREFIX, ...randomBytes(32)]),
    signatureScheme: ECDSA_SECP256R1_SHA256,
    clientIp: new Uint8Array([192, 0, 2, 7]),
  })
  // The node certificate the control plane issued is accepted by the key server.
  await client.execute(sign())

  const t0 = performance.now()
  const r = await h.call('POST', '/v1/nodes/edge-7/revoke')
  assert.equal(r.status, 200)
  assert.deepEqual(r.body['pushed'], [{ sink: `unix:${adminSocket}`, ok: true }])
  await assert.rejects(client.execute(sign(), { timeoutMs: 900 }))
  const elapsed = performance.now() - t0
  t.diagnostic(`revoke API call -> sign refused: ${elapsed.toFixed(0)} ms`)
  assert.ok(elapsed < 1000, `refused after ${elapsed.toFixed(0)} ms`)
  assert.equal(ks.status().revoked, 1)
})
