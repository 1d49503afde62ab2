import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, createHash, verify } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Op } from './_keyless.ts'
import { KeyServerError, ShareError } from './errors.ts'
import { performOperation } from './ops.ts'
import { DirectoryKeystore, initKeystore } from './sealed-keystore.ts'

const enc = (s: string) => new TextEncoder().encode(s)

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ks-'))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

function pem(kind: 'ec' | 'rsa' | 'ed25519'): Buffer {
  const pair =
    kind === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : kind === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519')
  // Throwaway test keys; production code never holds a key in a string.
  return Buffer.from(pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string)
}

test('DirectoryKeystore starts sealed; k-1 shares keep it sealed, k unseal it (P11)', (t) => {
  const dir = tempDir(t)
  const shares = initKeystore(dir, { shares: 5, threshold: 3 })
  assert.equal(shares.length, 5)
  const ks = DirectoryKeystore.open(dir)
  assert.equal(ks.isSealed(), true)
  assert.deepEqual(ks.submitShare(enc(shares[4]!)), { sealed: true, progress: 1, threshold: 3 })
  assert.deepEqual(ks.submitShare(enc(shares[1]!)), { sealed: true, progress: 2, threshold: 3 })
  assert.equal(ks.isSealed(), true)
  // Giving the same share twice does not count twice.
  assert.deepEqual(ks.submitShare(enc(shares[1]!)), { sealed: true, progress: 2, threshold: 3 })
  assert.deepEqual(ks.submitShare(enc(shares[2]!)), { sealed: false, progress: 0, threshold: 3 })
  assert.equal(ks.isSealed(), false)
})

test('DirectoryKeystore keys survive seal and unseal; seal drops them from memory', async (t) => {
  const dir = tempDir(t)
  const shares = initKeystore(dir, { shares: 3, threshold: 2 })
  const ks = DirectoryKeystore.open(dir)
  ks.submitShare(enc(shares[0]!))
  ks.submitShare(enc(shares[1]!))
  const key = pem('ec')
  const listed = ks.importKey(key, { denyCountries: ['ru'] })
  assert.equal(listed.type, 'ecdsa-p256')
  assert.deepEqual(listed.policy, { denyCountries: ['RU'] })
  const file = readFileSync(join(dir, 'keys', `${listed.ski}.json`), 'utf8')
  // Sealed at rest: the PKCS#8 key is not in the file in any encoding.
  const der = (await import('node:crypto'))
    .createPrivateKey(key)
    .export({ format: 'der', type: 'pkcs8' })
  assert.ok(!file.includes(der.toString('base64').slice(0, 40)))
  assert.ok(!file.includes('PRIVATE KEY'))
  assert.equal(statSync(join(dir, 'keys', `${listed.ski}.json`)).mode & 0o777, 0o600)

  ks.seal()
  assert.equal(ks.isSealed(), true)
  assert.equal(ks.find(listed.ski), undefined)
  assert.throws(() => ks.importKey(pem('ec')), /keystore is sealed/)

  const again = DirectoryKeystore.open(dir)
  again.submitShare(enc(shares[2]!))
  again.submitShare(enc(shares[0]!))
  const found = again.find(listed.ski)
  assert.ok(found)
  assert.deepEqual(again.list(), [
    { ski: listed.ski, type: 'ecdsa-p256', policy: { denyCountries: ['RU'] } },
  ])
  const digest = createHash('sha256').update('m').digest()
  const sig = await performOperation(found.backend, { opcode: Op.EcdsaSignSha256, payload: digest })
  const pub = (await import('node:crypto')).createPublicKey(key)
  assert.ok(verify('sha256', enc('m'), pub, sig))
})

test('DirectoryKeystore detects shares that do not rebuild the root key', (t) => {
  const dir = tempDir(t)
  const other = tempDir(t)
  const shares = initKeystore(dir, { shares: 3, threshold: 2 })
  const foreign = initKeystore(other, { shares: 3, threshold: 2 })
  const ks = DirectoryKeystore.open(dir)
  ks.submitShare(enc(shares[0]!))
  assert.throws(
    () => ks.submitShare(enc(foreign[1]!)),
    (e: unknown) => e instanceof KeyServerError && e.code === 'ERR_KEYSERVER_UNSEAL',
  )
  assert.equal(ks.isSealed(), true)
  assert.equal(ks.status().progress, 0)
  // A share with a flipped byte is detected the same way.
  const tampered = shares[1]!.slice(0, -1) + (shares[1]!.endsWith('0') ? '1' : '0')
  ks.submitShare(enc(shares[0]!))
  assert.throws(() => ks.submitShare(enc(tampered)), /do not rebuild/)
  assert.throws(() => ks.submitShare(enc('oks1-01-abcd')), ShareError)
  ks.submitShare(enc(shares[0]!))
  ks.submitShare(enc(shares[1]!))
  assert.equal(ks.isSealed(), false)
})

test('DirectoryKeystore refuses a key file whose policy was edited on disk', (t) => {
  const dir = tempDir(t)
  const shares = initKeystore(dir, { shares: 1, threshold: 1 })
  const ks = DirectoryKeystore.open(dir)
  ks.submitShare(enc(shares[0]!))
  const a = ks.importKey(pem('rsa'), { denyCountries: ['RU'] })
  const b = ks.importKey(pem('ed25519'))
  const path = join(dir, 'keys', `${a.ski}.json`)
  const file = JSON.parse(readFileSync(path, 'utf8'))
  file.policy = {}
  writeFileSync(path, JSON.stringify(file))
  ks.seal()
  ks.submitShare(enc(shares[0]!))
  assert.equal(ks.find(a.ski), undefined)
  assert.ok(ks.find(b.ski))
  assert.equal(ks.loadErrors.length, 1)
  assert.match(ks.loadErrors[0]!, new RegExp(`${a.ski}.*does not authenticate`))
})

test('initKeystore() refuses to overwrite and keeps dev shares only when asked', (t) => {
  const dir = tempDir(t)
  initKeystore(dir, { shares: 3, threshold: 2 })
  assert.throws(() => initKeystore(dir, { shares: 3, threshold: 2 }), /already exists/)
  assert.ok(!readdirSync(dir).includes('dev-shares.txt'))
  const dev = tempDir(t)
  initKeystore(dev, { shares: 3, threshold: 2, keepSharesForDev: true })
  const ks = DirectoryKeystore.open(dev)
  assert.equal(ks.unsealFromDevShares(), true)
  assert.equal(ks.isSealed(), false)
  assert.equal(statSync(join(dev, 'dev-shares.txt')).mode & 0o777, 0o600)
})

test('DirectoryKeystore.open() explains a missing keystore', (t) => {
  const dir = tempDir(t)
  assert.throws(() => DirectoryKeystore.open(dir), /outpost keyserver init/)
})
