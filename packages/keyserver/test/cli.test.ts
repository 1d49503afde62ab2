import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { runCommand } from '@outpost/command'
import { skiOf } from '@outpost/keyless'
import { toHex } from '@outpost/wire'
import { auditCommand, keyserverCommand } from '@outpost/keyserver/cli'
import { startFixture } from './fixture.ts'

async function run(
  cmd: typeof keyserverCommand,
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        append(chunk.toString())
        cb()
      },
    })
  const code = await runCommand(cmd, argv, {
    out: sink((s) => (out += s)),
    err: sink((s) => (err += s)),
  })
  return { code, out, err }
}

function openssl(args: string[]): { ok: boolean; text: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' })
  return { ok: r.status === 0, text: `${r.stdout}${r.stderr}` }
}

test('outpost keyserver: unseal/status/import/list/test-sign/revocations/seal, verified by the openssl binary', async (t) => {
  const f = await startFixture({ shares: 3, threshold: 2 })
  t.after(() => f.cleanup())
  const sock = ['--socket', f.server.adminSocket]

  assert.deepEqual(await run(keyserverCommand, ['unseal', f.shares[1]!, ...sock]), {
    code: 0,
    out: '1/2\n',
    err: '',
  })
  assert.deepEqual(await run(keyserverCommand, ['unseal', f.shares[2]!, ...sock]), {
    code: 0,
    out: 'unsealed\n',
    err: '',
  })
  const status = await run(keyserverCommand, ['status', ...sock])
  assert.equal(JSON.parse(status.out).sealed, false)

  const node = await f.node('edge-cli', 'eu-central', 'DE')
  const kinds = {
    ec: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    rsa: generateKeyPairSync('rsa', { modulusLength: 2048 }),
    ed: generateKeyPairSync('ed25519'),
  }
  const files: Record<string, { key: string; pub: string; ski: string }> = {}
  for (const [name, pair] of Object.entries(kinds)) {
    const key = join(f.dir, `${name}-key.pem`)
    const pub = join(f.dir, `${name}-pub.pem`)
    writeFileSync(key, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 })
    writeFileSync(pub, pair.publicKey.export({ format: 'pem', type: 'spki' }))
    files[name] = { key, pub, ski: toHex(skiOf(pair.publicKey)) }
    const imp = await run(keyserverCommand, [
      'keys',
      'import',
      '--key',
      key,
      '--policy',
      '{"allowRegions":["eu-central"],"denyCountries":["RU"]}',
      ...sock,
    ])
    assert.equal(imp.code, 0, imp.err)
    assert.equal(JSON.parse(imp.out).ski, files[name].ski)
  }
  const listed = await run(keyserverCommand, ['keys', 'list', ...sock])
  for (const k of Object.values(files)) assert.match(listed.out, new RegExp(`^${k.ski}  `, 'm'))
  assert.match(listed.out, /"denyCountries":\["RU"\]/)

  const message = 'signed by the key server'
  const msgFile = join(f.dir, 'msg.txt')
  writeFileSync(msgFile, message)
  const testSign = (key: { ski: string }, scheme: string, who = node) => {
    const out = join(f.dir, `${scheme}.sig`)
    return run(keyserverCommand, [
      'keys',
      'test-sign',
      '--server',
      `127.0.0.1:${f.server.address.port}`,
      '--servername',
      'localhost',
      '--ca',
      f.caFile,
      '--cert',
      who.certFile,
      '--key',
      who.keyFile,
      '--ski',
      key.ski,
      '--message',
      message,
      '--out',
      out,
      '--scheme',
      scheme,
    ]).then((r) => ({ ...r, out, sig: r.code === 0 ? readFileSync(out) : undefined }))
  }

  const ec = await testSign(files['ec']!, 'ecdsa-sha256')
  assert.equal(ec.code, 0, ec.err)
  assert.equal(ec.sig![0], 0x30)
  const v1 = openssl([
    'dgst',
    '-sha256',
    '-verify',
    files['ec']!.pub,
    '-signature',
    ec.out,
    msgFile,
  ])
  assert.ok(v1.ok, v1.text)
  assert.match(v1.text, /Verified OK/)

  const rsa = await testSign(files['rsa']!, 'rsa-pkcs1-sha256')
  assert.ok(
    openssl(['dgst', '-sha256', '-verify', files['rsa']!.pub, '-signature', rsa.out, msgFile]).ok,
  )
  const pss = await testSign(files['rsa']!, 'rsa-pss-sha256')
  const v3 = openssl([
    'dgst',
    '-sha256',
    '-sigopt',
    'rsa_padding_mode:pss',
    '-sigopt',
    'rsa_pss_saltlen:32',
    '-verify',
    files['rsa']!.pub,
    '-signature',
    pss.out,
    msgFile,
  ])
  assert.ok(v3.ok, v3.text)
  const ed = await testSign(files['ed']!, 'ed25519')
  const v4 = openssl([
    'pkeyutl',
    '-verify',
    '-pubin',
    '-inkey',
    files['ed']!.pub,
    '-rawin',
    '-in',
    msgFile,
    '-sigfile',
    ed.out,
  ])
  assert.ok(v4.ok, v4.text)
  assert.match(v4.text, /Signature Verified Successfully/)

  // openssl rejects the signature for another message (so the checks above can fail).
  const other = join(f.dir, 'other.txt')
  writeFileSync(other, message + '!')
  assert.equal(
    openssl(['dgst', '-sha256', '-verify', files['ec']!.pub, '-signature', ec.out, other]).ok,
    false,
  )

  // A node in a denied country gets PolicyDenied, exit 1.
  const ru = await f.node('edge-ru', 'eu-central', 'RU')
  const denied = await testSign(files['ec']!, 'ecdsa-sha256', ru)
  assert.equal(denied.code, 1)
  assert.match(denied.err, /PolicyDenied/)

  const rev = await run(keyserverCommand, ['revocations', 'replace', 'edge-cli', 'edge-9', ...sock])
  assert.deepEqual(rev, { code: 0, out: '2 node(s) revoked\n', err: '' })
  assert.equal(
    (await run(keyserverCommand, ['revocations', 'list', ...sock])).out,
    'edge-9\nedge-cli\n',
  )
  const revoked = await testSign(files['ec']!, 'ecdsa-sha256')
  assert.notEqual(revoked.code, 0)

  assert.deepEqual(await run(keyserverCommand, ['seal', ...sock]), {
    code: 0,
    out: 'sealed\n',
    err: '',
  })
  assert.equal(JSON.parse((await run(keyserverCommand, ['status', ...sock])).out).sealed, true)
  const noKeys = await run(keyserverCommand, ['keys', 'import', '--key', files['ec']!.key, ...sock])
  assert.equal(noKeys.code, 2)
  assert.match(noKeys.err, /sealed/)
})

test('outpost keyserver init prints shares once; audit verify checks the chain', async (t) => {
  const f = await startFixture({ shares: 1, threshold: 1 })
  t.after(() => f.cleanup())
  const dir = join(f.dir, 'fresh')
  const init = await run(keyserverCommand, [
    'init',
    '--dir',
    dir,
    '--shares',
    '5',
    '--threshold',
    '3',
  ])
  assert.equal(init.code, 0)
  assert.equal(init.out.match(/share \d: oks1-[0-9a-f]{2}-[0-9a-f]{64}/g)?.length, 5)
  const again = await run(keyserverCommand, ['init', '--dir', dir])
  assert.equal(again.code, 2)
  assert.match(again.err, /already exists/)
  assert.equal(
    (await run(keyserverCommand, ['init', '--dir', dir, '--shares', '2', '--threshold', '3'])).code,
    2,
  )

  // Produce some audit records through the server, then verify and tamper.
  f.server.unseal(f.shares[0]!)
  const node = await f.node('edge-a')
  const c = f.client(node)
  for (let i = 0; i < 4; i++) await c.ping()
  await c
    .execute({ opcode: 0x15, ski: new Uint8Array(20), payload: new Uint8Array(32) })
    .catch(() => undefined)
  await c.execute({ opcode: 0x15, payload: new Uint8Array(32) }).catch(() => undefined)
  await c
    .execute({ opcode: 0x30, ski: new Uint8Array(20), payload: new Uint8Array(1) })
    .catch(() => undefined)
  await f.server.close()
  const file = f.config.audit!.file!
  const ok = await run(auditCommand, ['verify', file])
  assert.deepEqual(ok, { code: 0, out: `${file}: 3 records, chain intact\n`, err: '' })
  const lines = readFileSync(file, 'utf8').split('\n')
  assert.match(lines[1]!, /"result":"Format"/)
  writeFileSync(
    file,
    [lines[0], lines[1]!.replace(/"result":"[A-Za-z]+"/, '"result":"ok"'), lines[2], ''].join('\n'),
  )
  const bad = await run(auditCommand, ['verify', file])
  assert.equal(bad.code, 1)
  assert.match(bad.out, /line 3: prev does not match/)
  // The real binary entry point agrees (exit status 1).
  const main = join(import.meta.dirname, '..', '..', 'cli', 'src', 'main.ts')
  const r = spawnSync(process.execPath, [main, 'audit', 'verify', file], { encoding: 'utf8' })
  assert.equal(r.status, 1, r.stderr)
  assert.match(r.stdout, /line 3/)
  assert.ok(execFileSync('openssl', ['version']).toString().startsWith('OpenSSL'))
})
