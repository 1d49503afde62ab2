/**
 * Threat model P4, P5, P15: our Tang client and Clevis JWE against Debian's tangd and
 * clevis, and clevis against our TangServer, all on 127.0.0.1.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  clevisDecrypt,
  clevisEncryptSss,
  clevisEncryptTang,
  parseCompactJwe,
  TangError,
  TangServer,
} from '@outpost/custody'
import { missingTools, run, startTangd, tools, type Tangd } from './tang-tools.ts'

const skipReal = missingTools('tangd', 'socat', 'clevis')
const skipClevis = missingTools('clevis')
const clevis = (args: string[], input?: Uint8Array) => run(tools.clevis as string, args, input)

describe('our client × real tangd (socat on 127.0.0.1)', { skip: skipReal }, () => {
  let dir: string
  let tangd: Tangd
  let tangd2: Tangd
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'custody-tangd-'))
    const db1 = join(dir, 'db1')
    const db2 = join(dir, 'db2')
    ;[tangd, tangd2] = await Promise.all([
      run('mkdir', ['-p', db1, db2]).then(() => startTangd(db1)),
      run('mkdir', ['-p', db2]).then(() => startTangd(db2)),
    ])
  })
  after(async () => {
    await tangd.stop()
    await tangd2.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  test('clevis encrypt tang → our decrypt', async () => {
    const enc = await clevis(
      ['encrypt', 'tang', JSON.stringify({ url: tangd.url }), '-y'],
      Buffer.from('from clevis'),
    )
    assert.equal(enc.code, 0, enc.stderr)
    const out = await clevisDecrypt(enc.stdout.toString('ascii'))
    assert.equal(out.toString(), 'from clevis')
  })

  test('our encrypt → clevis decrypt', async () => {
    const jwe = await clevisEncryptTang(Buffer.from('from outpost'), {
      url: tangd.url,
      trustFirstUse: true,
    })
    const dec = await clevis(['decrypt'], Buffer.from(jwe))
    assert.equal(dec.code, 0, dec.stderr)
    assert.equal(dec.stdout.toString(), 'from outpost')
  })

  test('sss t=2 over two tangd: clevis → ours and ours → clevis', async () => {
    const cfg = { t: 2, pins: { tang: [{ url: tangd.url }, { url: tangd2.url }] } }
    const enc = await clevis(['encrypt', 'sss', JSON.stringify(cfg), '-y'], Buffer.from('sss-c'))
    assert.equal(enc.code, 0, enc.stderr)
    assert.equal((await clevisDecrypt(enc.stdout.toString('ascii'))).toString(), 'sss-c')
    const ours = await clevisEncryptSss(Buffer.from('sss-o'), {
      t: 2,
      pins: { tang: cfg.pins.tang.map((p) => ({ ...p, trustFirstUse: true })) },
    })
    const dec = await clevis(['decrypt'], Buffer.from(ours))
    assert.equal(dec.code, 0, dec.stderr)
    assert.equal(dec.stdout.toString(), 'sss-o')
  })

  test(
    'tangd-rotate-keys: old JWE still opens; deleting the hidden key shreds it (404)',
    {
      skip: missingTools('rotate'),
    },
    async () => {
      const db = join(dir, 'db1')
      const jwe = await clevisEncryptTang(Buffer.from('rotated'), {
        url: tangd.url,
        trustFirstUse: true,
      })
      const kid = parseCompactJwe(jwe).header['kid'] as string
      const rot = await run(tools.rotate as string, ['-d', db])
      assert.equal(rot.code, 0, rot.stderr)
      assert.ok(readdirSync(db).includes(`.${kid}.jwk`), 'old exchange key hidden')
      assert.equal((await clevisDecrypt(jwe)).toString(), 'rotated')
      unlinkSync(join(db, `.${kid}.jwk`))
      await assert.rejects(clevisDecrypt(jwe), (e) => e instanceof TangError && e.status === 404)
    },
  )

  test('server down → our decrypt fails (P4)', async () => {
    const jwe = await clevisEncryptTang(Buffer.from('down'), {
      url: tangd2.url,
      trustFirstUse: true,
    })
    await tangd2.stop()
    await assert.rejects(clevisDecrypt(jwe, { timeoutMs: 3000 }), TangError)
  })
})

describe('clevis × our TangServer', { skip: skipClevis }, () => {
  let dir: string
  let server: TangServer
  let base: string
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'custody-ours-'))
    server = new TangServer({ dir, prefix: '/tang' })
    base = await server.listen()
  })
  after(async () => {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  })

  test('clevis encrypt -y / clevis decrypt against our server', async () => {
    const enc = await clevis(
      ['encrypt', 'tang', JSON.stringify({ url: `${base}/edge-1` }), '-y'],
      Buffer.from('clevis→ours'),
    )
    assert.equal(enc.code, 0, enc.stderr)
    const dec = await clevis(['decrypt'], enc.stdout)
    assert.equal(dec.code, 0, dec.stderr)
    assert.equal(dec.stdout.toString(), 'clevis→ours')
    assert.equal((await clevisDecrypt(enc.stdout.toString('ascii'))).toString(), 'clevis→ours')
  })

  test('clevis with a pinned thp, and a wrong thp refused', async () => {
    const signer = server.keys.ensure('edge-2').find((k) => k.kind === 'es512')!
    const ok = await clevis(
      ['encrypt', 'tang', JSON.stringify({ url: `${base}/edge-2`, thp: signer.thp })],
      Buffer.from('pinned'),
    )
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal((await clevis(['decrypt'], ok.stdout)).stdout.toString(), 'pinned')
    const bad = await clevis(
      ['encrypt', 'tang', JSON.stringify({ url: `${base}/edge-2`, thp: 'A'.repeat(43) })],
      Buffer.from('x'),
    )
    assert.notEqual(bad.code, 0)
  })

  test('crypto-shred: delete one node → clevis and our decrypt fail (404), another node opens (P5)', async () => {
    const enc = (node: string) =>
      clevis(
        ['encrypt', 'tang', JSON.stringify({ url: `${base}/${node}` }), '-y'],
        Buffer.from(node),
      )
    const [a, b] = await Promise.all([enc('seized'), enc('healthy')])
    assert.equal(a.code, 0, a.stderr)
    assert.equal(b.code, 0, b.stderr)
    server.keys.deleteNode('seized')
    const decA = await clevis(['decrypt'], a.stdout)
    assert.notEqual(decA.code, 0, 'clevis decrypt must fail after shred')
    await assert.rejects(
      clevisDecrypt(a.stdout.toString('ascii')),
      (e) => e instanceof TangError && e.status === 404,
    )
    // A fresh GET /adv would create new keys for "seized"; the old JWE still cannot open.
    server.keys.ensure('seized')
    assert.notEqual((await clevis(['decrypt'], a.stdout)).code, 0)
    const decB = await clevis(['decrypt'], b.stdout)
    assert.equal(decB.code, 0, decB.stderr)
    assert.equal(decB.stdout.toString(), 'healthy')
  })
})
