/**
 * Node lifecycle on the control plane (issues #5/#6): the per-node Tang endpoint at
 * /tang/<node> (our clevis client and Debian's clevis), single-use re-admission in
 * regions that require it, kill = crypto-shred, the watch long-poll, and the remote
 * revocation feed: a key server that only long-polls /node/v1/revocations over mTLS
 * refuses a revoked node within 1 s.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clevisDecrypt, clevisEncryptTang } from '@outpost/custody'
import { createCa, issueNodeCert } from '@outpost/pki'
import { startHarness, type Harness } from './harness.ts'
import { fileWriter, nodeSigner, startTestKeyServer } from './keyserver-fixture.ts'

async function enrolled(h: Harness, id: string, region: string): Promise<{ tangUrl: string }> {
  await h.enrol(id, region)
  const adv = await fetch(`${h.cp.url}/tang/${id}/adv`)
  assert.equal(adv.status, 200)
  return { tangUrl: `${h.cp.url}/tang/${id}` }
}

function clevisDecryptCli(jwe: string): Promise<{ code: number; out: Buffer }> {
  return new Promise((resolve) => {
    const p = spawn('clevis', ['decrypt'], { stdio: ['pipe', 'pipe', 'ignore'] })
    const out: Buffer[] = []
    p.stdout.on('data', (c: Buffer) => out.push(c))
    p.on('error', () => {
      resolve({ code: -1, out: Buffer.alloc(0) })
    })
    p.on('close', (code) => {
      resolve({ code: code ?? -1, out: Buffer.concat(out) })
    })
    p.stdin.end(jwe)
  })
}

function hasClevis(): boolean {
  return ['/usr/bin/clevis', '/bin/clevis'].some((p) => existsSync(p))
}

test('Tang per node: readmission is single use where the region requires it; elsewhere self-unlock; kill shreds', async (t) => {
  const h = await startHarness()
  t.after(() => h.close())
  await h.call('PUT', '/v1/regions/ru-central', {
    name: 'Moscow',
    country: 'RU',
    risk: 'critical',
    rebootNeedsReadmission: true,
  })
  await h.call('PUT', '/v1/regions/eu-central', {
    name: 'Frankfurt',
    country: 'DE',
    rebootNeedsReadmission: false,
  })
  const ru = await enrolled(h, 'edge-ru', 'ru-central')
  const eu = await enrolled(h, 'edge-eu', 'eu-central')
  const secret = randomBytes(48)
  const jweRu = await clevisEncryptTang(secret, { url: ru.tangUrl, trustFirstUse: true })
  const jweEu = await clevisEncryptTang(secret, { url: eu.tangUrl, trustFirstUse: true })

  // Unknown nodes have no Tang keys.
  assert.equal((await fetch(`${h.cp.url}/tang/nobody/adv`)).status, 404)

  // High-risk region: the enrolment grants the first unlock, then each boot needs approval.
  assert.deepEqual(await clevisDecrypt(jweRu), secret)
  await assert.rejects(clevisDecrypt(jweRu))
  const approve = await h.call('POST', '/v1/nodes/edge-ru/readmit')
  assert.equal(approve.status, 200)
  assert.deepEqual(await clevisDecrypt(jweRu), secret)
  await assert.rejects(clevisDecrypt(jweRu), 'the approval is single use')

  // Elsewhere: unlock as often as it reboots.
  for (let i = 0; i < 3; i++) assert.deepEqual(await clevisDecrypt(jweEu), secret)

  // Debian's clevis opens the JWE through our endpoint too.
  if (hasClevis()) {
    const r = await clevisDecryptCli(jweEu)
    assert.equal(r.code, 0)
    assert.deepEqual(r.out, secret)
  } else t.diagnostic('clevis not installed: CLI interop skipped')

  // Kill: state bricked, Tang keys shredded (even a re-admission cannot help), audited.
  const kill = await h.call('POST', '/v1/nodes/edge-eu/kill')
  assert.equal(kill.status, 200)
  await assert.rejects(clevisDecrypt(jweEu))
  assert.equal((await fetch(`${h.cp.url}/tang/edge-eu/adv`)).status, 403)
  assert.equal(h.cp.app.tang?.keys.keys('edge-eu').length, 0, 'keys deleted')
  assert.equal((await h.call('POST', '/v1/nodes/edge-eu/readmit')).status, 409)
  const audit = (await h.call('GET', '/v1/audit')).body['entries'] as { action: string }[]
  const actions = audit.map((e) => e.action)
  for (const a of [
    'node.readmit',
    'node.unlock (approval used)',
    'node.unlock',
    'node.kill',
    'node.tang-shred',
  ]) {
    assert.ok(actions.includes(a), `audit has ${a}`)
  }
  assert.equal((await h.call('GET', '/v1/audit/verify')).body['ok'], true)
})

test('watch: answers on a bundle change and with 410 within ~100 ms of a kill', async (t) => {
  const h = await startHarness()
  t.after(() => h.close())
  await h.call('PUT', '/v1/regions/eu-central', { name: 'Frankfurt', country: 'DE' })
  const creds = await h.enrol('edge-w', 'eu-central')
  const v0 = (await h.node(creds, 'GET', '/node/v1/bundle')).body['version'] as number
  // No change: the long-poll waits, then answers the same version.
  const idle = await h.node(creds, 'GET', `/node/v1/watch?bundleVersion=${v0}&waitMs=300`)
  assert.deepEqual(idle.body, { bundleVersion: v0 })
  const pending = h.node(creds, 'GET', `/node/v1/watch?bundleVersion=${v0}&waitMs=20000`)
  await new Promise((r) => setTimeout(r, 150))
  await h.call('POST', '/v1/orgs', {
    id: 'acme',
    name: 'Acme',
    country: 'DE',
    region: 'eu-central',
    plan: 'free',
  })
  const changed = await pending
  assert.ok((changed.body['bundleVersion'] as number) > v0)
  const v1 = changed.body['bundleVersion'] as number

  const killWatch = h.node(creds, 'GET', `/node/v1/watch?bundleVersion=${v1 + 1000}&waitMs=20000`)
  await new Promise((r) => setTimeout(r, 150))
  const t0 = performance.now()
  await h.call('POST', '/v1/nodes/edge-w/kill')
  const killed = await killWatch
  const ms = performance.now() - t0
  assert.equal(killed.status, 410)
  t.diagnostic(`kill API -> watch answered 410: ${ms.toFixed(0)} ms`)
  assert.ok(ms < 1000)
})

test('remote revocation feed: a key server that long-polls the control plane refuses a revoked node within 1 s', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'control-feed-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const ca = await createCa({ commonName: 'Test Node CA' })
  const file = fileWriter(dir)
  const caFile = file('ca.pem', ca.certPem, 0o644)
  const caKeyFile = file('ca-key.pem', ca.keyPem)
  // The control plane pushes to NO key server: the only path is the feed.
  const h = await startHarness({ nodeCa: { certFile: caFile, keyFile: caKeyFile } })
  t.after(() => h.close())

  // The key server's own client certificate for the feed, from the node CA.
  const feedCert = await issueNodeCert({ ca, nodeId: 'keyserver-b', region: 'safe', country: 'DE' })
  const { ks, ski } = await startTestKeyServer(t, dir, ca, {
    revocationFeed: {
      url: h.cp.nodeUrl,
      caFile,
      certFile: file('feed.pem', feedCert.certPem),
      keyFile: file('feed-key.pem', feedCert.keyPem),
    },
  })

  await h.call('PUT', '/v1/regions/eu-central', { name: 'Frankfurt', country: 'DE' })
  const creds = await h.enrol('edge-9', 'eu-central')
  const { client, sign } = nodeSigner(t, ks, ski, ca.certPem, creds, new Uint8Array([192, 0, 2, 9]))
  await client.execute(sign())
  // Let the feed's first poll settle into its long wait.
  await new Promise((r) => setTimeout(r, 300))

  const t0 = performance.now()
  const r = await h.call('POST', '/v1/nodes/edge-9/revoke')
  assert.equal(r.status, 200)
  assert.deepEqual(r.body['pushed'], [], 'nothing pushed: the feed is the only path')
  let refusedAt: number | undefined
  while (performance.now() - t0 < 2000) {
    try {
      await client.execute(sign(), { timeoutMs: 500 })
    } catch {
      refusedAt = performance.now() - t0
      break
    }
    await new Promise((r2) => setTimeout(r2, 20))
  }
  assert.ok(refusedAt !== undefined, 'never refused')
  t.diagnostic(`revoke API call -> remote key server refuses: ${refusedAt.toFixed(0)} ms`)
  assert.ok(refusedAt < 1000, `refused after ${refusedAt.toFixed(0)} ms`)
  assert.equal(ks.status().revoked, 1)
})
