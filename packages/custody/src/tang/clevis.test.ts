import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { JoseError, TangError } from '../errors.ts'
import { clevisDecrypt, clevisEncryptSss, clevisEncryptTang, parseCompactJwe } from './clevis.ts'
import { TangServer } from './server.ts'

let dir: string
let server: TangServer
let base: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custody-clevis-'))
  server = new TangServer({ dir, prefix: '/tang' })
  base = await server.listen()
})
after(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

const header = (jwe: string): Record<string, unknown> => parseCompactJwe(jwe).header

test('tang pin: encrypt then decrypt through our server; header is what clevis writes', async () => {
  const secret = Buffer.from('edge identity key bytes')
  const jwe = await clevisEncryptTang(secret, { url: `${base}/n1`, trustFirstUse: true })
  const h = header(jwe)
  assert.equal(h['alg'], 'ECDH-ES')
  assert.equal(h['enc'], 'A256GCM')
  assert.deepEqual(Object.keys(h), ['alg', 'clevis', 'enc', 'epk', 'kid'])
  const clevis = h['clevis'] as { pin: string; tang: { url: string; adv: { keys: unknown[] } } }
  assert.equal(clevis.pin, 'tang')
  assert.equal(clevis.tang.url, `${base}/n1`)
  assert.equal(clevis.tang.adv.keys.length, 2)
  assert.equal(jwe.split('.')[1], '')
  const out = await clevisDecrypt(jwe)
  assert.deepEqual(out, secret)
  out.fill(0)
})

test('encrypt refuses an unpinned advert unless trust-on-first-use is asked for', async () => {
  await assert.rejects(clevisEncryptTang(Buffer.from('x'), { url: `${base}/n1` }), TangError)
})

test('thp pinning: the right thumbprint works, a wrong one is refused', async () => {
  const signer = server.keys.ensure('n2').find((k) => k.kind === 'es512' && !k.hidden)!
  const jwe = await clevisEncryptTang(Buffer.from('pinned'), { url: `${base}/n2`, thp: signer.thp })
  assert.equal((await clevisDecrypt(jwe)).toString(), 'pinned')
  await assert.rejects(
    clevisEncryptTang(Buffer.from('x'), { url: `${base}/n2`, thp: 'A'.repeat(43) }),
    JoseError,
  )
})

test('offline provisioning from a saved advert needs no network at encrypt time', async () => {
  const adv = server.advert('n3')!
  const jwe = await clevisEncryptTang(Buffer.from('offline'), { url: `${base}/n3`, adv })
  assert.equal((await clevisDecrypt(jwe)).toString(), 'offline')
})

test('rotation: old JWEs still open, the advert shows only the new keys', async () => {
  const cfg = { url: `${base}/rot`, trustFirstUse: true }
  const old = await clevisEncryptTang(Buffer.from('before'), cfg)
  const oldKid = header(old)['kid']
  server.keys.rotate('rot')
  const fresh = await clevisEncryptTang(Buffer.from('after'), cfg)
  assert.notEqual(header(fresh)['kid'], oldKid)
  assert.equal((await clevisDecrypt(old)).toString(), 'before')
  assert.equal((await clevisDecrypt(fresh)).toString(), 'after')
  // Deleting the rotated exchange key shreds the old JWE only.
  assert.ok(server.keys.deleteKey('rot', oldKid as string))
  await assert.rejects(clevisDecrypt(old), (e) => e instanceof TangError && e.status === 404)
  assert.equal((await clevisDecrypt(fresh)).toString(), 'after')
})

test('crypto-shred one node: its JWE fails with 404, another node still opens', async () => {
  const a = await clevisEncryptTang(Buffer.from('a'), {
    url: `${base}/shred-a`,
    trustFirstUse: true,
  })
  const b = await clevisEncryptTang(Buffer.from('b'), {
    url: `${base}/shred-b`,
    trustFirstUse: true,
  })
  server.keys.deleteNode('shred-a')
  await assert.rejects(clevisDecrypt(a), (e) => e instanceof TangError && e.status === 404)
  assert.equal((await clevisDecrypt(b)).toString(), 'b')
})

test('sss: t=2 of 2 and t=1 of 2, nested, with one server down', async () => {
  const other = new TangServer({ dir: join(dir, 'other') })
  const otherBase = await other.listen()
  const pins = [
    { url: `${base}/sss`, trustFirstUse: true },
    { url: `${otherBase}/sss`, trustFirstUse: true },
  ]
  const both = await clevisEncryptSss(Buffer.from('two of two'), { t: 2, pins: { tang: pins } })
  const either = await clevisEncryptSss(Buffer.from('one of two'), { t: 1, pins: { tang: pins } })
  const nested = await clevisEncryptSss(Buffer.from('nested'), {
    t: 1,
    pins: { sss: [{ t: 2, pins: { tang: pins } }] },
  })
  assert.equal(header(both)['alg'], 'dir')
  assert.equal((await clevisDecrypt(both)).toString(), 'two of two')
  assert.equal((await clevisDecrypt(either)).toString(), 'one of two')
  assert.equal((await clevisDecrypt(nested)).toString(), 'nested')
  await other.close()
  await assert.rejects(clevisDecrypt(both), /1 of 2 required shares/)
  assert.equal((await clevisDecrypt(either)).toString(), 'one of two')
})

test('server down: decrypt fails with TangError', async () => {
  const s = new TangServer({ dir: join(dir, 'down') })
  const url = await s.listen()
  const jwe = await clevisEncryptTang(Buffer.from('x'), { url: `${url}/n`, trustFirstUse: true })
  await s.close()
  await assert.rejects(clevisDecrypt(jwe, { timeoutMs: 2000 }), TangError)
})

test('a modified ciphertext or header fails authentication', async () => {
  const jwe = await clevisEncryptTang(Buffer.from('integrity'), {
    url: `${base}/n1`,
    trustFirstUse: true,
  })
  const parts = jwe.split('.')
  const ct = Buffer.from(parts[3]!, 'base64url')
  ct[0] = (ct[0] ?? 0) ^ 1
  parts[3] = ct.toString('base64url')
  await assert.rejects(clevisDecrypt(parts.join('.')), /authentication failed/)
})

test('clevisDecrypt: random compact strings only throw JoseError', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string(),
        fc.array(fc.base64String(), { minLength: 5, maxLength: 5 }).map((p) => p.join('.')),
        fc
          .jsonValue()
          .map(
            (h) => `${Buffer.from(JSON.stringify(h)).toString('base64url')}..AAAAAAAAAAAAAAAA..`,
          ),
      ),
      async (s) => {
        await assert.rejects(clevisDecrypt(s), (e) => e instanceof JoseError)
      },
    ),
    { numRuns: 200 },
  )
})
