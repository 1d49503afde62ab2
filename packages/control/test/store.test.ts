/**
 * ONE storage suite, run against node:sqlite and PostgreSQL (the latter
 * skipped, with the reason, when the PostgreSQL binaries are missing).
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Store, canonicalJson, lastLease, recordLease } from '../src/store/store.ts'
import { numberPlaceholders } from '../src/store/postgres.ts'
import { postgresMissing, startPostgres, type PgServer } from './postgres-server.ts'

type Open = (t: TestContext) => Promise<Store>

function suite(name: string, open: Open, skip: string | undefined): void {
  const opts = skip !== undefined ? { skip } : {}
  test(`${name}: migrations are idempotent`, opts, async (t) => {
    const s = await open(t)
    assert.equal(await s.migrate(), 0)
  })

  test(`${name}: mutate writes, reads, deletes and audits every change`, opts, async (t) => {
    const s = await open(t)
    const v0 = await s.counter('bundle_version')
    await s.mutate({
      actor: 'alice',
      action: 'org.create',
      kind: 'org',
      id: 'o1',
      apply: () => ({ id: 'o1', n: 1 }),
    })
    await s.mutate<{ id: string; n: number }>({
      actor: 'bob',
      action: 'org.update',
      kind: 'org',
      id: 'o1',
      apply: (b) => (b ? { ...b, n: b.n + 1 } : undefined),
    })
    await s.mutate({
      actor: 'alice',
      action: 'org.create',
      kind: 'org',
      id: 'o2',
      apply: () => ({ id: 'o2', n: 9 }),
    })
    assert.deepEqual(await s.get('org', 'o1'), { id: 'o1', n: 2 })
    assert.deepEqual(
      (await s.list<{ id: string }>('org')).map((o) => o.id),
      ['o1', 'o2'],
    )
    await s.mutate({
      actor: 'carol',
      action: 'org.delete',
      kind: 'org',
      id: 'o2',
      apply: () => undefined,
    })
    assert.equal(await s.get('org', 'o2'), undefined)
    assert.equal(await s.counter('bundle_version'), v0 + 4)

    const log = await s.audit()
    assert.deepEqual(
      log.map((e) => [e.seq, e.actor, e.action, e.target]),
      [
        [1, 'alice', 'org.create', 'o1'],
        [2, 'bob', 'org.update', 'o1'],
        [3, 'alice', 'org.create', 'o2'],
        [4, 'carol', 'org.delete', 'o2'],
      ],
    )
    const [e1, e2, , e4] = log
    assert.ok(e1 && e2 && e4)
    assert.equal(e1.beforeHash, null)
    assert.equal(e2.beforeHash, e1.afterHash)
    assert.equal(e4.afterHash, null)
    assert.equal(e2.prevHash, e1.hash)
    assert.deepEqual(await s.verifyAudit(), { ok: true, count: 4 })

    // Tampering with any stored entry breaks the chain at that entry.
    await s.driver.run("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    assert.deepEqual(await s.verifyAudit(), { ok: false, count: 2, brokenAt: 2 })
  })

  test(`${name}: a throwing mutation changes nothing and audits nothing`, opts, async (t) => {
    const s = await open(t)
    await assert.rejects(
      s.mutate({
        actor: 'a',
        action: 'x',
        kind: 'org',
        id: 'o9',
        apply: () => {
          throw new Error('no')
        },
      }),
      /no/,
    )
    assert.equal(await s.get('org', 'o9'), undefined)
    assert.equal((await s.audit()).length, 0)
  })

  test(`${name}: concurrent mutations keep one unbroken chain`, opts, async (t) => {
    const s = await open(t)
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        s.mutate({
          actor: 'a',
          action: 'x',
          kind: 'k',
          id: `r${i % 5}`,
          apply: (b) => ({ i, b: b ?? null }),
        }),
      ),
    )
    assert.deepEqual(await s.verifyAudit(), { ok: true, count: 20 })
  })

  test(`${name}: tokens by hash, revocation, and the audit of both`, opts, async (t) => {
    const s = await open(t)
    const hash = 'a'.repeat(64)
    await s.createToken('init', { id: 't1', name: 'first', hash, scopes: ['admin'] })
    assert.deepEqual((await s.tokenByHash(hash))?.scopes, ['admin'])
    assert.equal(await s.tokenByHash('b'.repeat(64)), undefined)
    assert.equal(await s.revokeToken('init', 't1'), true)
    assert.equal(await s.revokeToken('init', 't1'), false)
    assert.equal(await s.tokenByHash(hash), undefined)
    assert.equal((await s.listTokens())[0]?.revokedAt !== null, true)
    assert.deepEqual(
      (await s.audit()).map((e) => e.action),
      ['token.create', 'token.revoke'],
    )
  })

  test(`${name}: lease heartbeats are stored without audit or bundle bump`, opts, async (t) => {
    const s = await open(t)
    await recordLease(s, 'edge-1', '2026-01-01T00:00:00.000Z')
    await recordLease(s, 'edge-1', '2026-01-01T00:00:30.000Z')
    assert.equal(await lastLease(s, 'edge-1'), '2026-01-01T00:00:30.000Z')
    assert.equal(await lastLease(s, 'edge-2'), undefined)
    assert.equal((await s.audit()).length, 0)
    assert.equal(await s.counter('bundle_version'), 0)
  })
}

suite(
  'store (node:sqlite)',
  async (t) => {
    const s = await Store.open({ path: ':memory:' })
    t.after(() => s.close())
    return s
  },
  undefined,
)

let pg: PgServer | undefined
let db = 0
const missing = postgresMissing()
suite(
  'store (PostgreSQL)',
  async (t) => {
    pg ??= await startPostgres()
    // A fresh database per test, so the suites see the same empty start.
    const admin = await Store.open({ url: pg.url })
    const name = `t${++db}_${process.pid}`
    await admin.driver.exec(`CREATE DATABASE ${name}`)
    await admin.close()
    const s = await Store.open({ url: pg.url.replace('/postgres?', `/${name}?`) })
    t.after(() => s.close())
    return s
  },
  missing,
)
test('stop PostgreSQL', { skip: missing ?? false }, async () => {
  await pg?.stop()
  assert.ok(true)
})

test('canonicalJson() sorts keys and is stable under key order', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (o) => {
      const reversed = Object.fromEntries(Object.entries(o).reverse())
      assert.equal(canonicalJson(o), canonicalJson(reversed))
      assert.deepEqual(JSON.parse(canonicalJson(o)), JSON.parse(JSON.stringify(o)))
    }),
  )
})

test('numberPlaceholders() numbers every ? in order', () => {
  assert.equal(numberPlaceholders('a = ? AND b = ? OR c = ?'), 'a = $1 AND b = $2 OR c = $3')
})
