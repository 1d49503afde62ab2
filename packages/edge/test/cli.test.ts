import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { runCommand, type Command } from '@outpost/command'
import { request } from 'undici'
import { edgeCommand } from '../src/cli.ts'
import { ADMIN_TOKEN, adminTokenSha256, startOrigin, startTestEdge } from './harness.ts'

const root: Command = { name: 'outpost', summary: 'test root', subcommands: [edgeCommand] }

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough()
  const err = new PassThrough()
  let o = ''
  let e = ''
  out.on('data', (d: Buffer) => (o += d.toString()))
  err.on('data', (d: Buffer) => (e += d.toString()))
  const code = await runCommand(root, argv, { out, err })
  return { code, out: o, err: e }
}

test('outpost edge purge / reload talk to the admin API with the token file', async () => {
  const origin = await startOrigin((_q, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'cache-tag': 't1' })
    res.end('x')
  })
  const f = await startTestEdge(origin.url, {
    admin: { listen: '127.0.0.1:0', tokenSha256: adminTokenSha256 },
  })
  const tokenFile = join(f.dir, 'token')
  writeFileSync(tokenFile, ADMIN_TOKEN + '\n', { mode: 0o600 })
  const badFile = join(f.dir, 'bad-token')
  writeFileSync(badFile, 'nope\n')
  const admin = f.edge.adminAddress!
  try {
    await f.get('/p')
    await f.edge.settle()
    const bad = await cli([
      'edge',
      'purge',
      '--admin',
      admin,
      '--token-file',
      badFile,
      '--tag',
      't1',
    ])
    assert.equal(bad.code, 2)
    assert.match(bad.err, /answered 401/)
    const two = await cli([
      'edge',
      'purge',
      '--admin',
      admin,
      '--token-file',
      tokenFile,
      '--tag',
      't1',
      '--host',
      'x',
    ])
    assert.equal(two.code, 2)
    assert.match(two.err, /exactly one of/)
    const ok = await cli([
      'edge',
      'purge',
      '--admin',
      admin,
      '--token-file',
      tokenFile,
      '--tag',
      't1',
    ])
    assert.equal(ok.code, 0, ok.err)
    assert.equal(ok.out, 'purged 1\n')
    const rl = await cli(['edge', 'reload', '--admin', admin, '--token-file', tokenFile])
    assert.equal(rl.code, 0, rl.err)
    assert.equal(rl.out, 'reloaded\n')
  } finally {
    await f.close()
    await origin.close()
  }
})

test('outpost edge run: serves, reloads on SIGHUP, stops on SIGTERM', async () => {
  const a = await startOrigin((_q, res) => res.end('A'))
  const b = await startOrigin((_q, res) => res.end('B'))
  const dir = mkdtempSync(join(tmpdir(), 'edge-cli-'))
  const file = join(dir, 'edge.yaml')
  const yaml = (origin: string): string =>
    `listen: 127.0.0.1:0\nplaintext: true\nsites:\n  - hosts: [site.test]\n    origin: ${origin}\n`
  writeFileSync(file, yaml(a.url))
  const main = join(import.meta.dirname, '../../cli/src/main.ts')
  const child = spawn(process.execPath, [main, 'edge', 'run', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const waitFor = async (re: RegExp): Promise<RegExpExecArray> => {
    for (let i = 0; i < 200; i++) {
      const m = re.exec(out)
      if (m) return m
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error(`timed out waiting for ${re} in ${JSON.stringify(out)} / ${err}`)
  }
  try {
    const m = await waitFor(/edge listening on (127\.0\.0\.1:\d+) \(plaintext\)/)
    const get = async (): Promise<string> =>
      (await request(`http://${m[1]!}/`, { headers: { host: 'site.test' } })).body.text()
    assert.equal(await get(), 'A')
    writeFileSync(file, yaml(b.url))
    child.kill('SIGHUP')
    await waitFor(/edge: reloaded/)
    assert.equal(await get(), 'B')
    child.kill('SIGTERM')
    const code = await new Promise<number | null>((r) => {
      child.once('exit', (c) => {
        r(c)
      })
    })
    assert.equal(code, 0, err)
  } finally {
    child.kill('SIGKILL')
    await a.close()
    await b.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
