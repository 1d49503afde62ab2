import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadControlConfig } from './config.ts'

test('loadControlConfig() fills defaults, takes OUTPOST_CONTROL_* overrides and names bad fields', () => {
  const dir = mkdtempSync(join(tmpdir(), 'control-cfg-'))
  try {
    const f = join(dir, 'control.yaml')
    writeFileSync(f, 'keyServers:\n  - adminSocket: /run/ks.sock\n')
    const c = loadControlConfig(f, { OUTPOST_CONTROL_LISTEN: '127.0.0.1:9000' })
    assert.equal(c.listen, '127.0.0.1:9000')
    assert.equal(c.nodeListen, '127.0.0.1:8441')
    assert.equal(c.stek.rotateSeconds, 3600)
    assert.deepEqual(c.keyServers, [{ adminSocket: '/run/ks.sock' }])
    writeFileSync(f, 'stek:\n  rotateSeconds: 5\nbogus: 1\n')
    assert.throws(() => loadControlConfig(f, {}), /rotateSeconds/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
