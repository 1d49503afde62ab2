/** `outpost control init` and `outpost ctl ...` against a running control plane. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { runCommand, type Command } from '@outpost/command'
import { controlCommand, ctlCommand, fieldsToBody } from '../src/cli.ts'
import { startControlPlane } from '../src/server.ts'

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = []
  return {
    stream: new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(Buffer.from(c))
        cb()
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  }
}

async function run(
  cmd: Command,
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out = sink()
  const err = sink()
  const code = await runCommand(cmd, argv, { out: out.stream, err: err.stream })
  return { code, out: out.text(), err: err.text() }
}

test('outpost control init prints one admin token once; outpost ctl drives the API with it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'control-cli-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const cfg = join(dir, 'control.yaml')
  writeFileSync(cfg, `database:\n  path: ${join(dir, 'control.db')}\n`)

  const init = await run(controlCommand, ['init', '--config', cfg])
  assert.equal(init.code, 0, init.err)
  const token = init.out.trim()
  assert.match(token, /^opt_[0-9a-f]{64}$/)
  const again = await run(controlCommand, ['init', '--config', cfg])
  assert.equal(again.code, 2)
  assert.match(again.err, /already has tokens/)

  const cp = await startControlPlane(
    {
      listen: '127.0.0.1:0',
      nodeListen: '127.0.0.1:0',
      database: { path: join(dir, 'control.db') },
    },
    { env: {}, log: () => undefined, bootstrapToken: false },
  )
  t.after(() => cp.close())
  assert.equal(cp.adminToken, undefined)
  const ctl = (...args: string[]) => run(ctlCommand, [...args, '--url', cp.url, '--token', token])

  assert.equal(
    (await ctl('regions', 'put', 'ru-central', 'name=Moscow', 'country=RU', 'noNewPaidPlans=true'))
      .code,
    0,
  )
  const refused = await ctl(
    'orgs',
    'create',
    'id=acme',
    'name=Acme',
    'country=RU',
    'region=ru-central',
    'plan=pro',
  )
  assert.equal(refused.code, 1)
  assert.match(refused.err, /ERR_CONTROL_REGION_NO_NEW_PAID_PLANS/)
  assert.equal(
    (await ctl('orgs', 'create', 'id=acme', 'name=Acme', 'country=RU', 'region=ru-central')).code,
    0,
  )
  const enrol = await ctl('nodes', 'enrol', 'id=edge-1', 'region=ru-central')
  assert.match(enrol.out, /"enrolToken":"opt_[0-9a-f]{64}"/)
  const revoked = await ctl('nodes', 'revoke', 'edge-1')
  assert.match(revoked.out, /"state":"revoked"/)
  const orgs = JSON.parse((await ctl('orgs', 'list')).out) as { orgs: { id: string }[] }
  assert.deepEqual(
    orgs.orgs.map((o) => o.id),
    ['acme'],
  )
  const verify = JSON.parse((await ctl('audit', 'verify')).out) as { ok: boolean; count: number }
  assert.equal(verify.ok, true)
  assert.equal(verify.count, 5) // token.create (init), region.put, org.create, node.register, node.revoke
  const noToken = await run(ctlCommand, ['orgs', 'list', '--url', cp.url])
  assert.equal(noToken.code, process.env['OUTPOST_CONTROL_TOKEN'] === undefined ? 2 : 1)
})

test('fieldsToBody() reads JSON values and plain strings', () => {
  assert.deepEqual(fieldsToBody(['a=1', 'b=x', 'c=["RU"]', 'd=true', 'e=1.5x']), {
    a: 1,
    b: 'x',
    c: ['RU'],
    d: true,
    e: '1.5x',
  })
  assert.throws(() => fieldsToBody(['novalue']), /key=value/)
  assert.throws(() => fieldsToBody(['a={bad']), /not valid JSON/)
})
