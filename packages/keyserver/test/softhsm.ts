/** A throwaway SoftHSM2 token in a temp dir, for tests and the benchmark. */
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so'

export interface TestToken {
  readonly dir: string
  readonly conf: string
  readonly label: string
  readonly pin: string
  /** Imports a new key and returns its public key. */
  importKey(kind: 'ec-p256' | 'ec-p384' | 'rsa-2048', id: string): KeyObject
  /** Runs `fn` with SOFTHSM2_CONF pointing at this token's config. */
  cleanup(): void
}

export function createTestToken(label = 'outpost-test', pin = '123456'): TestToken {
  const dir = mkdtempSync(join(tmpdir(), 'softhsm-'))
  mkdirSync(join(dir, 'tokens'))
  const conf = join(dir, 'softhsm2.conf')
  writeFileSync(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  )
  const env = { ...process.env, SOFTHSM2_CONF: conf }
  // Every later PKCS#11 user in this process (the worker thread) reads it from here.
  process.env['SOFTHSM2_CONF'] = conf
  execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '87654321'],
    {
      env,
      stdio: 'pipe',
    },
  )
  return {
    dir,
    conf,
    label,
    pin,
    importKey(kind, id) {
      const pair =
        kind === 'rsa-2048'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ec', { namedCurve: kind === 'ec-p256' ? 'P-256' : 'P-384' })
      const file = join(dir, `${id}.pk8`)
      // A throwaway key, written only inside this test's temp dir.
      writeFileSync(file, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 })
      execFileSync(
        'softhsm2-util',
        ['--import', file, '--token', label, '--label', `key-${id}`, '--id', id, '--pin', pin],
        { env, stdio: 'pipe' },
      )
      rmSync(file)
      return pair.publicKey
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
