import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '@outpost/config'
import { loadKeyServerConfig } from './config.ts'

function file(t: { after: (fn: () => void) => void }, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kscfg-'))
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const p = join(dir, 'keyserver.yaml')
  writeFileSync(p, text)
  return p
}

const minimal = `
tls: { certFile: s.pem, keyFile: s-key.pem, caFile: ca.pem }
keystore: { type: directory, dir: keys }
`

function problems(fn: () => unknown): readonly string[] {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e))
    return e.problems
  }
  assert.fail('expected a ConfigError')
}

test('loadKeyServerConfig() fills in defaults', (t) => {
  const c = loadKeyServerConfig(file(t, minimal), {})
  assert.equal(c.listen, '127.0.0.1:2407')
  assert.equal(c.metricsListen, '127.0.0.1:2406')
  assert.equal(c.tls.allowTls12, true)
  assert.equal(c.limits.maxInFlightPerConnection, 256)
  assert.equal(c.dev.autoUnseal, false)
  assert.deepEqual(c.keystore, { type: 'directory', dir: 'keys' })
})

test('loadKeyServerConfig() names the offending fields', (t) => {
  const p = problems(() =>
    loadKeyServerConfig(
      file(
        t,
        `listen: 127.0.0.1:99999
tls: { certFile: s.pem, caFile: 3 }
keystore: { type: directory, dir: keys, extra: 1 }
limits: { maxInFlightTotal: -1 }
bogus: true
`,
      ),
      {},
    ),
  )
  const has = (re: RegExp) => {
    assert.ok(
      p.some((x) => re.test(x)),
      `${re} in ${p.join(' | ')}`,
    )
  }
  has(/^listen: Port must be at most 65535/)
  has(/^tls\.keyFile:/)
  has(/^tls\.caFile:/)
  has(/^keystore:.*extra/)
  has(/^limits\.maxInFlightTotal:/)
  has(/^\(root\):.*bogus/)
})

test('loadKeyServerConfig() validates the PKCS#11 keystore and its policies', (t) => {
  const p = problems(() =>
    loadKeyServerConfig(
      file(
        t,
        `tls: { certFile: s.pem, keyFile: k.pem, caFile: ca.pem }
keystore:
  type: pkcs11
  module: /usr/lib/softhsm/libsofthsm2.so
  tokenLabel: t
  pinEnv: 1234
  policies:
    "${'ab'.repeat(20)}": { denyCountries: [Russia] }
`,
      ),
      {},
    ),
  )
  assert.ok(
    p.some((x) => x.startsWith('keystore.pinEnv:')),
    p.join(' | '),
  )
  assert.ok(
    p.some((x) => x.startsWith(`keystore.policies.${'ab'.repeat(20)}.denyCountries.0:`)),
    p.join(' | '),
  )
  const q = problems(() => loadKeyServerConfig(file(t, minimal.replace('directory', 'vault')), {}))
  assert.ok(
    q.some((x) => x.startsWith('keystore.type:')),
    q.join(' | '),
  )
})

test('loadKeyServerConfig() takes OUTPOST_KEYSERVER_* overrides', (t) => {
  const c = loadKeyServerConfig(file(t, minimal), {
    OUTPOST_KEYSERVER_LISTEN: '127.0.0.1:0',
    OUTPOST_KEYSERVER_DEV__AUTO_UNSEAL: 'true',
  })
  assert.equal(c.listen, '127.0.0.1:0')
  assert.equal(c.dev.autoUnseal, true)
})
