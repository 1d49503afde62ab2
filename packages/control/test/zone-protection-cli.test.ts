/** `outpost ctl protection set|show|delete`: a zone's protection config from a YAML file. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ctl, startHarness } from './harness.ts'

test('outpost ctl protection set --file rules.yaml: validated, stored, shown, deleted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zone-protection-ctl-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const h = await startHarness()
  t.after(() => h.close())
  const auth = ['--url', h.cp.url, '--token', h.token]
  await h.call('PUT', '/v1/regions/ge-tbilisi', { name: 'Tbilisi', country: 'GE' })
  await h.call('POST', '/v1/orgs', {
    id: 'ge',
    name: 'Civil.ge',
    country: 'GE',
    region: 'ge-tbilisi',
  })
  await h.call('POST', '/v1/zones', {
    id: 'ge-web',
    orgId: 'ge',
    hostnames: ['civil.example'],
    origin: 'https://origin.civil.example',
  })
  const good = join(dir, 'rules.yaml')
  writeFileSync(
    good,
    [
      'rules:',
      '  - id: login',
      '    action: rate-limit',
      '    match: { paths: ["/login"] }',
      '    rateLimit: { rate: 5r/s, burst: 10 }',
      '',
    ].join('\n'),
  )
  const set = await ctl(['protection', 'set', 'ge-web', '--file', good, ...auth])
  assert.equal(set.code, 0, set.err)
  const show = await ctl(['protection', 'show', 'ge-web', ...auth])
  const cfg = (JSON.parse(show.out) as { config: { rules: { id: string; rateLimit: unknown }[] } })
    .config
  const [rule] = cfg.rules
  assert.ok(rule !== undefined)
  assert.equal(rule.id, 'login')
  assert.deepEqual(rule.rateLimit, { rate: '5r/s', burst: 10 })

  const bad = join(dir, 'bad.yaml')
  writeFileSync(bad, 'rules:\n  - id: x\n    action: explode\n')
  const refused = await ctl(['protection', 'set', 'ge-web', '--file', bad, ...auth])
  assert.equal(refused.code, 1)
  assert.match(refused.err, /protection\.rules\.0\.action/)
  const missing = await ctl(['protection', 'set', 'ge-web', ...auth])
  assert.notEqual(missing.code, 0)
  assert.match(missing.err, /--file/)

  assert.equal((await ctl(['protection', 'delete', 'ge-web', ...auth])).code, 0)
  const gone = await ctl(['protection', 'show', 'ge-web', ...auth])
  assert.equal(gone.code, 1)
  assert.match(gone.err, /no protection config/)
})
