/**
 * Edge node mode end to end (issues #5/#6), with real processes on 127.0.0.1:
 * `outpost edge enrol` (identity sealed to the control plane's Tang), `outpost edge run
 * --dir` (custody agent in the process, lease, STEKs, signed bundle), a zone created
 * with `outpost ctl zones create` served through the key server, bundle changes applied
 * without dropping connections, resumption across two edges, kill/revoke timings,
 * restart with and without re-admission, and `outpost edge status` exit codes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { clevisDecrypt, STATUS_EXIT } from '@outpost/custody'
import {
  cli,
  httpsGet,
  NodeProcess,
  request,
  startWorld,
  ticketOf,
  tlsConnect,
  type World,
} from './node-helpers.ts'

async function world(t: { after: (fn: () => Promise<void>) => void }): Promise<World> {
  const w = await startWorld()
  t.after(() => w.close())
  await w.api('PUT', '/v1/regions/eu-central', {
    name: 'Frankfurt',
    country: 'DE',
    rebootNeedsReadmission: false,
  })
  await w.api('PUT', '/v1/regions/ru-central', {
    name: 'Moscow',
    country: 'RU',
    risk: 'critical',
    rebootNeedsReadmission: true,
  })
  await w.api('POST', '/v1/orgs', {
    id: 'acme',
    name: 'Acme Media',
    country: 'DE',
    region: 'eu-central',
    plan: 'free',
  })
  return w
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
}

async function status(dir: string): Promise<{ code: number; doc: Record<string, unknown> }> {
  const r = await cli(['edge', 'status', '--dir', dir, '--json'])
  return { code: r.code, doc: JSON.parse(r.out || '{}') as Record<string, unknown> }
}

test('enrolled edges serve an API-created zone from the signed bundle, reload on change, share STEKs', async (t) => {
  const w = await world(t)
  await w.zone('shop', 'shop.test')
  const dirA = await w.enrol('edge-a', 'eu-central')
  const dirB = await w.enrol('edge-b', 'eu-central')

  // No private key on disk in the clear: only the JWE, certificates and node.json.
  for (const f of filesUnder(dirA)) {
    assert.doesNotMatch(readFileSync(f, 'latin1'), /PRIVATE KEY/, f)
  }
  assert.match(readFileSync(join(dirA, 'identity.jwe'), 'ascii'), /^ey[\w-]+\.\.[\w-]+\./)
  assert.equal(statSync(join(dirA, 'identity.jwe')).mode & 0o777, 0o600)

  const a = new NodeProcess(dirA)
  const b = new NodeProcess(dirB)
  t.after(async () => {
    await a.stop()
    await b.stop()
  })
  const addrA = await a.address()
  const addrB = await b.address()
  assert.ok(a.lines.includes('state: unlocked') && a.lines.includes('state: serving'))
  assert.deepEqual((await status(dirA)).code, STATUS_EXIT.serving)

  const ca = readFileSync(w.pki.caFile, 'utf8')
  const res = await httpsGet(addrA, 'shop.test', ca, '/hello')
  assert.equal(res.status, 200)
  assert.equal(res.body, 'origin says hi to shop.test /hello')

  // A connection open across a bundle change keeps working; the new zone is served within 5 s.
  const held = await tlsConnect(addrA, 'shop.test', ca)
  t.after(() => {
    held.destroy()
  })
  assert.equal((await request(held, 'shop.test', '/1')).status, 200)
  // Through the API this time (the CLI start-up would outlast the keep-alive idle timeout).
  const t0 = performance.now()
  await w.zone('blog', 'blog.test', 'api')
  let served: number | undefined
  while (performance.now() - t0 < 8000) {
    try {
      const r = await httpsGet(addrA, 'blog.test', ca, '/new')
      if (r.status === 200 && r.body.includes('blog.test')) {
        served = performance.now() - t0
        break
      }
    } catch {
      // not yet in the bundle: the handshake fails for an unknown name
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.ok(served !== undefined, 'new zone never served')
  t.diagnostic(`zone created -> served by the enrolled edge: ${served.toFixed(0)} ms`)
  assert.ok(served < 5000)
  assert.equal((await request(held, 'shop.test', '/2')).status, 200, 'held connection survived')

  // Same control plane → same STEKs: a ticket from edge A resumes on edge B.
  const first = await tlsConnect(addrA, 'shop.test', ca)
  await request(first, 'shop.test', '/t')
  const session = await ticketOf(first)
  first.destroy()
  const resumed = await tlsConnect(addrB, 'shop.test', ca, session)
  t.after(() => {
    resumed.destroy()
  })
  assert.equal(resumed.isSessionReused(), true, 'ticket from edge A resumes on edge B')
  assert.equal((await request(resumed, 'shop.test', '/r')).status, 200)

  // A bundle signed by another key is refused by the node (tested in-process on the API):
  // here, the version the node applied is recorded for rollback protection across restarts.
  const nodeFile = JSON.parse(readFileSync(join(dirA, 'node.json'), 'utf8')) as {
    bundleVersion: number
  }
  assert.ok(nodeFile.bundleVersion > 0)
})

test('kill: the node bricks within 1 s, the key server refuses it, its JWE can never be opened again', async (t) => {
  const w = await world(t)
  await w.zone('shop', 'shop.test')
  const dir = await w.enrol('edge-k', 'eu-central')
  // Before the kill the identity opens (relaxed region: any number of unlocks).
  const identity = await clevisDecrypt(readFileSync(join(dir, 'identity.jwe'), 'ascii'))
  identity.fill(0)
  const n = new NodeProcess(dir)
  t.after(async () => {
    await n.stop()
  })
  const addr = await n.address()
  const ca = readFileSync(w.pki.caFile, 'utf8')
  assert.equal((await httpsGet(addr, 'shop.test', ca)).status, 200)

  const t0 = performance.now()
  await w.api('POST', '/v1/nodes/edge-k/kill')
  await n.waitFor(/^state: bricked \(operator_kill/, 3000)
  const brickedMs = performance.now() - t0
  t.diagnostic(`kill API -> node bricked: ${brickedMs.toFixed(0)} ms`)
  assert.ok(brickedMs < 1000, `bricked after ${brickedMs.toFixed(0)} ms`)
  assert.ok(w.ks.status().revoked >= 1, 'key server has the node on its revocation list')
  assert.equal(await n.exited, STATUS_EXIT.bricked, 'exits with the bricked code')
  await assert.rejects(httpsGet(addr, 'shop.test', ca), 'listener closed')

  const s = await status(dir)
  assert.equal(s.code, STATUS_EXIT.bricked)
  assert.equal(s.doc['reason'], 'operator_kill')
  // Crypto-shred: even with the control plane up, the JWE is unrecoverable.
  await assert.rejects(clevisDecrypt(readFileSync(join(dir, 'identity.jwe'), 'ascii')))
  // The cache directory is empty.
  assert.deepEqual(filesUnder(join(dir, 'cache')), [])
  // A restart stays bricked (a killed node must be enrolled again).
  const again = await cli(['edge', 'run', '--dir', dir, '--listen', '127.0.0.1:0'])
  assert.notEqual(again.code, 0)
  assert.match(again.err, /bricked \(operator_kill\)/)
})

test('restart: self-unlock in a relaxed region; a single-use operator re-admission where required', async (t) => {
  const w = await world(t)
  await w.zone('shop', 'shop.test')
  const ca = readFileSync(w.pki.caFile, 'utf8')

  // Relaxed region: stop, start again, serves without an operator.
  const euDir = await w.enrol('edge-eu', 'eu-central')
  const eu1 = new NodeProcess(euDir)
  await eu1.address()
  assert.equal(await eu1.stop(), 0)
  assert.equal((await status(euDir)).code, STATUS_EXIT.sealed, 'clean stop = sealed')
  const eu2 = new NodeProcess(euDir)
  t.after(async () => {
    await eu2.stop()
  })
  assert.equal((await httpsGet(await eu2.address(), 'shop.test', ca)).status, 200)

  // Strict region: the first boot after enrolment unlocks; a reboot needs re-admission.
  const ruDir = await w.enrol('edge-ru', 'ru-central')
  const ru1 = new NodeProcess(ruDir)
  await ru1.address()
  assert.equal(await ru1.stop(), 0)
  const ru2 = new NodeProcess(ruDir, [], {})
  t.after(async () => {
    await ru2.stop()
  })
  await new Promise((r) => setTimeout(r, 2500))
  assert.ok(!ru2.lines.some((l) => l.startsWith('edge listening')), 'serves without approval')
  assert.equal((await status(ruDir)).code, STATUS_EXIT.sealed)
  const r = await cli(['ctl', 'nodes', 'readmit', 'edge-ru'], {
    OUTPOST_CONTROL_URL: w.cp.url,
    OUTPOST_CONTROL_TOKEN: w.token,
  })
  assert.equal(r.code, 0, r.err)
  const addr = await ru2.address(15_000)
  assert.equal((await httpsGet(addr, 'shop.test', ca)).status, 200)
  assert.equal((await status(ruDir)).code, STATUS_EXIT.serving)
  // The approval was used: the next reboot waits again.
  assert.equal(await ru2.stop(), 0)
  const ru3 = new NodeProcess(ruDir)
  t.after(async () => {
    await ru3.stop()
  })
  await new Promise((r2) => setTimeout(r2, 2500))
  assert.ok(!ru3.lines.some((l) => l.startsWith('edge listening')))
  const audit = (await w.api('GET', '/v1/audit'))['entries'] as { action: string; target: string }[]
  const ru = audit.filter((e) => e.target === 'edge-ru').map((e) => e.action)
  assert.deepEqual(
    ru.filter((a) => a.startsWith('node.unlock') || a === 'node.readmit'),
    ['node.unlock (approval used)', 'node.readmit', 'node.unlock (approval used)'],
  )
})
