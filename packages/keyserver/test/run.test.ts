import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { KeylessClient } from '@outpost/keyless'
import { KEY_SERVER_NODE_FLAGS } from '../src/node-flags.ts'
import { runKeyServerProcess, startFixture } from './fixture.ts'

test('outpost keyserver run: the real binary serves, warns in dev mode, and stops on SIGTERM', async (t) => {
  // The fixture provides the PKI and an initialised dev keystore; its own server is closed first.
  const f = await startFixture({ devAutoUnseal: true })
  t.after(() => f.cleanup())
  await f.server.close()
  const node = await f.node('edge-run')
  const ks = await runKeyServerProcess(f, 'run', ['log: { level: info }'])
  t.after(() => {
    ks.kill()
  })
  const { child, port } = ks
  const stderr = ks.stderr()
  assert.match(stderr, /WARNING: dev\.autoUnseal is on/)
  // The launcher restarted itself in place (same PID) with the key server's V8 flags
  // (node-flags.ts): without them V8 goes into GC storms under load after an idle phase.
  const cmdline = readFileSync(`/proc/${String(child.pid)}/cmdline`, 'utf8').split('\0')
  for (const flag of KEY_SERVER_NODE_FLAGS) assert.ok(cmdline.includes(flag), cmdline.join(' '))
  // JSON logs on stderr, and no secret material in them.
  const logLine = stderr.split('\n').find((l) => l.includes('"key server started"'))
  assert.ok(logLine, stderr)
  assert.equal(JSON.parse(logLine).sealed, false)
  assert.ok(!stderr.includes(f.shares[0]!.slice(8)))

  const client = new KeylessClient({
    servers: [{ host: '127.0.0.1', port, servername: 'localhost' }],
    ca: f.ca.certPem,
    cert: node.issued.certPem,
    key: new Uint8Array(node.issued.keyPem),
  })
  assert.ok((await client.ping()) >= 0)
  await client.close()
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', resolve)
    child.kill('SIGTERM')
  })
  assert.equal(code, 0)
})

test('key server reloads revocations on SIGHUP', async (t) => {
  const f = await startFixture({ handleSighup: true })
  t.after(() => f.cleanup())
  writeFileSync(f.config.revocationsFile!, 'edge-1\nedge-2 # seized\n')
  // Synchronously after the signal: the 200 ms file poll cannot have run yet.
  process.emit('SIGHUP', 'SIGHUP')
  assert.equal(f.server.status().revoked, 2)
})
