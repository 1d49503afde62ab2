import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadEdgeConfig, parseEdgeConfig } from './config.ts'

const minimal = { plaintext: true, sites: [{ hosts: ['a.test'], origin: 'http://127.0.0.1:8080' }] }

test('parseEdgeConfig(): defaults', () => {
  const c = parseEdgeConfig(minimal)
  assert.equal(c.listen, '127.0.0.1:8443')
  assert.deepEqual(c.timeouts, { connectMs: 5000, headersMs: 30000, bodyIdleMs: 30000 })
  assert.deepEqual(c.stek, { rotateSeconds: 3600, keepSeconds: 64800 })
  assert.equal(c.sites[0]?.cache, true)
})

test('parseEdgeConfig(): errors name the field', () => {
  const bad = (input: unknown, re: RegExp): void => {
    assert.throws(
      () => parseEdgeConfig(input),
      (e: unknown) => {
        const problems = (e as { problems: string[] }).problems
        assert.ok(
          problems.some((p) => re.test(p)),
          problems.join('\n'),
        )
        return (e as { code: string }).code === 'ERR_CONFIG_INVALID'
      },
    )
  }
  bad({ ...minimal, extra: 1 }, /^\(root\):.*extra/)
  bad({ ...minimal, listen: 'nope' }, /^listen: Expected HOST:PORT/)
  bad(
    { plaintext: true, sites: [{ hosts: ['A.test'], origin: 'http://x' }] },
    /^sites\.0\.hosts\.0:/,
  )
  bad({ plaintext: true, sites: [{ hosts: ['a.test'], origin: 'ftp://x' }] }, /^sites\.0\.origin:/)
  bad(
    { sites: [{ hosts: ['a.test'], origin: 'http://x' }] },
    /^sites\.0: A TLS site needs certificates and a key/,
  )
  bad(
    { plaintext: true, sites: [minimal.sites[0], { hosts: ['a.test'], origin: 'http://y' }] },
    /^sites\.1\.hosts\.0: Host a\.test is served by two sites/,
  )
  bad(
    {
      sites: [
        {
          hosts: ['a.test'],
          origin: 'http://x',
          certificates: ['c.pem'],
          key: { ski: 'ab'.repeat(20), pool: 'p' },
        },
      ],
    },
    /^sites\.0\.key\.pool: No key server pool named p/,
  )
  bad(
    { ...minimal, admin: { tokenSha256: 'short' } },
    /^admin\.tokenSha256: Expected 64 hex digits/,
  )
  bad({ ...minimal, accessLog: { path: '-', clientIp: 'raw' } }, /^accessLog\.clientIp:/)
  bad(
    { ...minimal, accessLog: { path: '-', rejectsPerSecond: -1 } },
    /^accessLog\.rejectsPerSecond:/,
  )
})

test('loadEdgeConfig(): YAML file with OUTPOST_EDGE_* overrides', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-cfg-'))
  try {
    const file = join(dir, 'edge.yaml')
    writeFileSync(
      file,
      'plaintext: true\nsites:\n  - hosts: [a.test]\n    origin: http://127.0.0.1:1\n',
    )
    const c = loadEdgeConfig(file, {
      OUTPOST_EDGE_LISTEN: '127.0.0.1:9999',
      OUTPOST_EDGE_TIMEOUTS__CONNECT_MS: '42',
    })
    assert.equal(c.listen, '127.0.0.1:9999')
    assert.equal(c.timeouts.connectMs, 42)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
