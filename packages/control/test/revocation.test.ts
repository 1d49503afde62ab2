/**
 * Threat model P10 across components: revoking a node through the control
 * plane's API makes a key server (started in-process, fed through its admin
 * Unix socket) refuse that node's sign request within 1 s.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCa } from '@outpost/pki'
import { startHarness } from './harness.ts'
import { fileWriter, nodeSigner, startTestKeyServer } from './keyserver-fixture.ts'

test('revoking a node through the API: the key server refuses its sign request within 1 s', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'control-revoke-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const ca = await createCa({ commonName: 'Test Node CA' })
  const file = fileWriter(dir)
  const caFile = file('ca.pem', ca.certPem, 0o644)
  const caKeyFile = file('ca-key.pem', ca.keyPem)
  const adminSocket = join(dir, 'ks-admin.sock')
  const { ks, ski } = await startTestKeyServer(t, dir, ca, {
    adminSocket,
    revocationsFile: join(dir, 'revoked.txt'),
  })

  const h = await startHarness({
    nodeCa: { certFile: caFile, keyFile: caKeyFile },
    keyServers: [{ adminSocket }],
  })
  t.after(() => h.close())
  await h.call('PUT', '/v1/regions/eu-central', { name: 'Frankfurt', country: 'DE' })
  const creds = await h.enrol('edge-7', 'eu-central')

  const { client, sign } = nodeSigner(t, ks, ski, ca.certPem, creds, new Uint8Array([192, 0, 2, 7]))
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
