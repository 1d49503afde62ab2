/** `outpost ctl decisions|bans|security|programme ...` against a running control plane. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ctl, startHarness } from './harness.ts'

test('outpost ctl: decisions, bans, security report, programme with a locally signed referral', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'protect-ctl-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const h = await startHarness()
  t.after(() => h.close())
  const auth = ['--url', h.cp.url, '--token', h.token]
  await h.call('PUT', '/v1/regions/by-minsk', {
    name: 'Minsk',
    country: 'BY',
    noNewPaidPlans: true,
  })
  await h.call('POST', '/v1/orgs', {
    id: 'nn',
    name: 'Nasha Niva',
    country: 'BY',
    region: 'by-minsk',
  })
  await h.call('POST', '/v1/zones', {
    id: 'nn-web',
    orgId: 'nn',
    hostnames: ['nashaniva.example'],
    origin: 'https://origin.nashaniva.example',
  })

  const ua = await ctl(['decisions', 'under-attack', 'nn-web', 'ttlSeconds=120', ...auth])
  assert.equal(ua.code, 0, ua.err)
  assert.equal((JSON.parse(ua.out) as { zoneId: string }).zoneId, 'nn-web')
  const ban = await ctl(['bans', 'add', 'prefix=192.0.2.9/24', 'ttlSeconds=60', ...auth])
  assert.equal(ban.code, 0, ban.err)
  const banId = (JSON.parse(ban.out) as { id: string; prefix: string }).id
  assert.match(ban.out, /"prefix":"192\.0\.2\.0\/24"/)
  const list = await ctl(['decisions', 'list', ...auth])
  assert.equal((JSON.parse(list.out) as { decisions: unknown[] }).decisions.length, 2)
  assert.equal((await ctl(['bans', 'delete', banId, ...auth])).code, 0)
  const bad = await ctl(['bans', 'add', 'prefix=10.0.0.0/2', ...auth])
  assert.equal(bad.code, 1)
  assert.match(bad.err, /ERR_CONTROL_VALIDATION: Cannot accept prefix "10\.0\.0\.0\/2"/)
  const report = await ctl(['security', 'report', 'nn-web', '1', ...auth])
  assert.equal(report.code, 0, report.err)
  assert.equal((JSON.parse(report.out) as { binSeconds: number }).binSeconds, 60)

  // Programme: the partner registers, signs locally, the applicant hands the referral in.
  const partner = generateKeyPairSync('ed25519')
  const pub = join(dir, 'partner.pub.pem')
  const priv = join(dir, 'partner.pem')
  writeFileSync(pub, partner.publicKey.export({ type: 'spki', format: 'pem' }))
  writeFileSync(priv, partner.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
  const put = await ctl([
    'programme',
    'partner-put',
    'rsf',
    '--name',
    'RSF',
    '--public-key',
    pub,
    ...auth,
  ])
  assert.equal(put.code, 0, put.err)
  const aud = (
    JSON.parse((await ctl(['programme', 'audience', ...auth])).out) as { audience: string }
  ).audience
  const applied = await ctl([
    'programme',
    'apply',
    'orgId=nn2',
    'name=Nasha Niva Two',
    'country=BY',
    'region=by-minsk',
    'category=news',
    'sites=["nn2.example"]',
    'atRisk=Blocked and attacked for independent reporting',
    'contact=it@nn2.example',
    ...auth,
  ])
  assert.equal(applied.code, 0, applied.err)
  const appId = (JSON.parse(applied.out) as { id: string }).id
  const jws = await ctl([
    'programme',
    'sign-referral',
    '--key',
    priv,
    '--partner',
    'rsf',
    '--aud',
    aud,
    '--application',
    appId,
  ])
  assert.equal(jws.code, 0, jws.err)
  assert.match(jws.out.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/)
  const handed = await ctl(['programme', 'referral', appId, `referral=${jws.out.trim()}`, ...auth])
  assert.equal(handed.code, 0, handed.err)
  // No sanctions lists loaded: the application waits in screening.
  assert.deepEqual(JSON.parse(handed.out), { id: appId, state: 'screening' })
  const noKey = await ctl([
    'programme',
    'sign-referral',
    '--partner',
    'rsf',
    '--aud',
    aud,
    '--application',
    appId,
  ])
  assert.equal(noKey.code, 2)
  assert.match(noKey.err, /Missing --key/)
  const help = await ctl(['programme', '--help'])
  assert.match(help.out, /sign-referral/)
  assert.match(help.out, /approve/)
})
