import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { p521 } from '@noble/curves/nist.js'
import { verifyAdvert } from './advert.ts'
import { pointToJwk } from './jose.ts'
import { TangServer } from './server.ts'

let dir: string
let server: TangServer
let base: string

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'custody-tangd-'))
  server = new TangServer({ dir, prefix: '/tang', allowNode: (id) => !id.startsWith('unknown') })
  base = await server.listen()
})
after(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

test('GET /adv creates a node key pair on demand, files 0600 in a 0700 directory', async () => {
  const res = await fetch(`${base}/edge-1/adv`)
  assert.equal(res.status, 200)
  const v = verifyAdvert(await res.json())
  assert.deepEqual(v.keys.map((k) => k.alg).sort(), ['ECMR', 'ES512'])
  const files = readdirSync(join(dir, 'edge-1')).sort()
  assert.equal(files.length, 2)
  assert.equal(statSync(join(dir, 'edge-1')).mode & 0o777, 0o700)
  for (const f of files) {
    assert.match(f, /\.(es512|ecmr)$/)
    assert.equal(statSync(join(dir, 'edge-1', f)).mode & 0o777, 0o600)
    assert.equal(statSync(join(dir, 'edge-1', f)).size, 66)
  }
})

test('nodes have separate keys', () => {
  const a = server.keys.ensure('edge-a').map((k) => k.thp)
  const b = server.keys.ensure('edge-b').map((k) => k.thp)
  assert.equal(a.filter((t) => b.includes(t)).length, 0)
})

test('GET /adv/{kid}: signing kid 200, exchange kid 404; trailing slash as clevis sends it', async () => {
  const keys = server.keys.ensure('edge-2')
  const sign = keys.find((k) => k.kind === 'es512')!
  const exch = keys.find((k) => k.kind === 'ecmr')!
  const r1 = await fetch(`${base}/edge-2/adv/${sign.thp}`)
  assert.equal(r1.status, 200)
  verifyAdvert(await r1.json(), { thp: sign.thp })
  assert.equal((await fetch(`${base}/edge-2/adv/${exch.thp}`)).status, 404)
  assert.equal((await fetch(`${base}/edge-2/adv/`)).status, 200)
})

test('POST /rec: y = x·s; unknown kid 404, off-curve 400, wrong method 405, big body 413', async () => {
  const exch = server.keys.ensure('edge-3').find((k) => k.kind === 'ecmr')!
  const x = p521.Point.BASE.multiply(12345n)
  const rec = (kid: string, body: string): Promise<Response> =>
    fetch(`${base}/edge-3/rec/${kid}`, {
      method: 'POST',
      headers: { 'content-type': 'application/jwk+json' },
      body,
    })
  const ok = await rec(exch.thp, JSON.stringify({ ...pointToJwk(x), alg: 'ECMR' }))
  assert.equal(ok.status, 200)
  assert.equal(ok.headers.get('content-type'), 'application/jwk+json')
  const y = (await ok.json()) as { x: string; alg: string }
  const s = BigInt('0x' + exch.d.toString('hex'))
  assert.equal(y.x, pointToJwk(x.multiply(s)).x)
  assert.equal(y.alg, 'ECMR')
  assert.equal((await rec('A'.repeat(43), JSON.stringify(pointToJwk(x)))).status, 404)
  const off = { ...pointToJwk(x), y: pointToJwk(x).x }
  assert.equal((await rec(exch.thp, JSON.stringify(off))).status, 400)
  assert.equal((await rec(exch.thp, 'not json')).status, 400)
  assert.equal((await rec(exch.thp, 'x'.repeat(5000))).status, 413)
  assert.equal((await fetch(`${base}/edge-3/rec/${exch.thp}`)).status, 405)
})

test('allowNode gates on-demand creation; bad ids and other paths are 404', async () => {
  assert.equal((await fetch(`${base}/unknown-9/adv`)).status, 404)
  assert.deepEqual(readdirSync(dir).includes('unknown-9'), false)
  assert.equal((await fetch(`${base}/..%2Fetc/adv`)).status, 404)
  assert.equal((await fetch(`${base}/edge-1/other`)).status, 404)
  assert.equal((await fetch(`${base.replace(/\/tang$/, '')}/elsewhere`)).status, 404)
})

test('keys survive a restart (loaded from disk), and deleteNode removes the directory', async () => {
  const before = server.keys
    .ensure('edge-4')
    .map((k) => k.thp)
    .sort()
  const again = new TangServer({ dir })
  assert.deepEqual(
    again.keys
      .keys('edge-4')
      .map((k) => k.thp)
      .sort(),
    before,
  )
  const scalars = again.keys.keys('edge-4').map((k) => k.d)
  again.keys.deleteNode('edge-4')
  for (const d of scalars)
    assert.ok(
      d.every((b) => b === 0),
      'scalar zeroised',
    )
  assert.equal(readdirSync(dir).includes('edge-4'), false)
  await again.close()
})

test('a key file that is not a valid scalar is ignored, not fatal', async () => {
  const { writeFileSync, mkdirSync } = await import('node:fs')
  mkdirSync(join(dir, 'edge-bad'), { mode: 0o700 })
  writeFileSync(join(dir, 'edge-bad', 'junk.ecmr'), Buffer.alloc(66, 0xff), { mode: 0o600 })
  const s = new TangServer({ dir })
  assert.equal(s.keys.keys('edge-bad').length, 0)
  assert.equal(s.keys.ensure('edge-bad').length, 2)
  s.keys.close()
})
