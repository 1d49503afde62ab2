import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { loadConfig, ConfigError } from './load.ts'
import { hostPort, splitHostPort } from './schemas.ts'

const Schema = z
  .object({
    listen: hostPort.default('127.0.0.1:2407'),
    tls: z
      .object({ caFile: z.string(), maxConns: z.number().int().positive().default(10) })
      .strict(),
  })
  .strict()

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
  const p = join(dir, 'c.yaml')
  writeFileSync(p, text)
  return p
}

test('loadConfig() applies defaults and reads YAML', () => {
  const c = loadConfig(Schema, file('tls:\n  caFile: ca.pem\n'))
  assert.deepEqual(c, { listen: '127.0.0.1:2407', tls: { caFile: 'ca.pem', maxConns: 10 } })
})

test('loadConfig() names the offending field', () => {
  assert.throws(
    () => loadConfig(Schema, file('listen: nope\ntls:\n  caFile: 3\n  extra: 1\n')),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError)
      assert.ok(e.problems.some((p) => p.startsWith('listen: Expected HOST:PORT')))
      assert.ok(e.problems.some((p) => p.startsWith('tls.caFile:')))
      assert.ok(e.problems.some((p) => p.startsWith('tls:') && p.includes('extra')))
      return true
    },
  )
})

test('loadConfig() reports YAML syntax errors with a position', () => {
  assert.throws(() => loadConfig(Schema, file('tls: [unclosed\n')), /YAML syntax error at line/)
})

test('loadConfig() applies environment overrides over the file', () => {
  const c = loadConfig(Schema, file('tls:\n  caFile: ca.pem\n'), {
    envPrefix: 'X',
    env: { X_LISTEN: '127.0.0.1:9', X_TLS__MAX_CONNS: '5', OTHER: '1' },
  })
  assert.equal(c.listen, '127.0.0.1:9')
  assert.equal(c.tls.maxConns, 5)
})

test('hostPort rejects ports above 65535 and bare hosts', () => {
  assert.equal(hostPort.safeParse('127.0.0.1:65536').success, false)
  assert.equal(hostPort.safeParse('localhost').success, false)
  assert.equal(hostPort.safeParse('[::1]:443').success, true)
})

test('splitHostPort() splits names, IPv4 and bracketed IPv6', () => {
  assert.deepEqual(splitHostPort('127.0.0.1:2407'), { host: '127.0.0.1', port: 2407 })
  assert.deepEqual(splitHostPort('keys.example:0'), { host: 'keys.example', port: 0 })
  assert.deepEqual(splitHostPort('[::1]:443'), { host: '::1', port: 443 })
})
