import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { runCommand } from '@outpost/command'
import { custodyCommand, STATUS_EXIT } from './cli.ts'
import { writeStateFile } from './state-file.ts'
import type { CustodyStatus } from './state.ts'
import { clevisDecrypt } from './tang/clevis.ts'
import { TangServer } from './tang/server.ts'

let dir: string
let tang: TangServer
let base: string
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custody-cli-'))
  tang = new TangServer({ dir: join(dir, 'tang') })
  base = await tang.listen()
})
after(async () => {
  await tang.close()
  rmSync(dir, { recursive: true, force: true })
})

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough()
  const err = new PassThrough()
  const chunks: Buffer[] = []
  const errs: Buffer[] = []
  out.on('data', (c: Buffer) => chunks.push(c))
  err.on('data', (c: Buffer) => errs.push(c))
  const code = await runCommand(custodyCommand, argv, { out, err })
  return { code, out: Buffer.concat(chunks).toString(), err: Buffer.concat(errs).toString() }
}

test('status: exit code per state, JSON with state, reason, since and lease expiry', async () => {
  const file = join(dir, 'state.json')
  const now = Date.now()
  const cases: [CustodyStatus, number][] = [
    [{ state: 'serving', since: now, leaseExpiresAt: now + 30_000 }, 0],
    [{ state: 'sealed', since: now }, 10],
    [{ state: 'unlocked', since: now }, 11],
    [{ state: 'bricked', since: now, reason: 'lease_lost', seconds: 31.2 }, 20],
  ]
  for (const [s, code] of cases) {
    writeStateFile(file, s)
    const r = await run(['status', '--state-file', file, '--json'])
    assert.equal(r.code, code, r.err)
    assert.equal(STATUS_EXIT[s.state], code)
    const doc = JSON.parse(r.out) as Record<string, unknown>
    assert.equal(doc['state'], s.state)
    assert.equal(doc['since'], new Date(now).toISOString())
    assert.equal(doc['agentRunning'], true, 'written by this process')
    if (s.state === 'serving') {
      assert.equal(doc['leaseExpiresAt'], new Date(now + 30_000).toISOString())
    }
    if (s.state === 'bricked') {
      assert.equal(doc['reason'], 'lease_lost')
      assert.equal(doc['seconds'], 31.2)
      const text = await run(['status', '--state-file', file])
      assert.match(text.out, /state: bricked\nsince: .*\nreason: lease_lost\nseconds: 31.2/)
      assert.equal(text.code, 20)
    }
  }
})

test('status: a record left by a dead agent is flagged as not running', async () => {
  const file = join(dir, 'stale.json')
  writeStateFile(file, { state: 'serving', since: Date.now(), leaseExpiresAt: Date.now() })
  const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  writeFileSync(file, JSON.stringify({ ...doc, pid: 2 ** 22 + 12345 }))
  const r = await run(['status', '--state-file', file, '--json'])
  assert.equal((JSON.parse(r.out) as Record<string, unknown>)['agentRunning'], false)
  const text = await run(['status', '--state-file', file])
  assert.match(text.out, /\(not running\)/)
})

test('status: a missing state file is an error (exit 1), not a state', async () => {
  const r = await run(['status', '--state-file', join(dir, 'absent.json')])
  assert.equal(r.code, 1)
  assert.match(r.err, /Cannot read/)
})

test('seal-identity writes a 0600 JWE that decrypts to the key; trust must be explicit', async () => {
  const key = join(dir, 'identity.key')
  const out = join(dir, 'identity.jwe')
  const secret = randomBytes(64)
  writeFileSync(key, secret, { mode: 0o600 })
  const url = `${base}/edge-9`
  const refused = await run(['seal-identity', '--tang', url, '--key', key, '--out', out])
  assert.equal(refused.code, 2)
  const signer = tang.keys.ensure('edge-9').find((k) => k.kind === 'es512')!
  const r = await run([
    'seal-identity',
    '--tang',
    url,
    '--key',
    key,
    '--out',
    out,
    '--thp',
    signer.thp,
  ])
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /destroy the plaintext key/)
  assert.equal(statSync(out).mode & 0o777, 0o600)
  const pt = await clevisDecrypt(readFileSync(out, 'ascii'))
  assert.deepEqual(pt, secret)
  const check = await run(['check-unlock', out])
  assert.equal(check.code, 0, check.err)
  assert.match(check.out, /^ok: 64 bytes, sha256 [0-9a-f]{16}/)
  assert.ok(!check.out.includes(secret.toString('hex').slice(0, 16)))
})

test('tang-rotate and tang-shred act on one node directory', async () => {
  const tdir = join(dir, 'tang2')
  const t = new TangServer({ dir: tdir })
  const before = t.keys.ensure('n1').map((k) => k.thp)
  t.keys.ensure('n2')
  t.keys.close()
  const rot = await run(['tang-rotate', '--dir', tdir, '--node', 'n1'])
  assert.equal(rot.code, 0, rot.err)
  assert.equal(rot.out.trim().split('\n').length, 2)
  for (const thp of before) assert.ok(!rot.out.includes(thp))
  const shred = await run(['tang-shred', '--dir', tdir, '--node', 'n1'])
  assert.equal(shred.code, 0)
  const after = new TangServer({ dir: tdir })
  assert.equal(after.keys.keys('n1').length, 0)
  assert.equal(after.keys.keys('n2').length, 2)
  after.keys.close()
})
