import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { ADMIN_TOKEN, adminTokenSha256, startOrigin, startTestEdge } from './harness.ts'

async function admin(
  address: string,
  path: string,
  body: unknown,
  token: string | null = ADMIN_TOKEN,
): Promise<{ status: number; json: unknown }> {
  const r = await request(`http://${address}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  })
  return { status: r.statusCode, json: await r.body.json() }
}

test('admin: purge by url, prefix, host and tag; unauthenticated or malformed requests are refused', async () => {
  const origin = await startOrigin((req, res) => {
    const tag = req.url?.startsWith('/img/') === true ? 'images' : 'pages'
    res.writeHead(200, { 'cache-control': 'max-age=600', 'cache-tag': `${tag}, all` })
    res.end(`content of ${req.url}`)
  })
  const f = await startTestEdge(origin.url, {
    sites: [
      { hosts: ['site.test'], origin: origin.url },
      { hosts: ['other.test'], origin: origin.url },
    ],
    admin: { listen: '127.0.0.1:0', tokenSha256: adminTokenSha256 },
  })
  const addr = f.edge.adminAddress!
  const warm = async (): Promise<void> => {
    for (const p of ['/a', '/img/1', '/img/2']) await f.get(p)
    await f.get('/o', { host: 'other.test' })
    await f.edge.settle()
  }
  const state = async (p: string, host = 'site.test'): Promise<unknown> =>
    (await f.get(p, { host, 'cache-control': 'only-if-cached' })).status
  try {
    await warm()
    assert.equal(f.edge.cache!.store.count, 4)

    // Refused: no token, wrong token, bad selector. Nothing is purged.
    assert.equal((await admin(addr, '/purge', { url: 'http://site.test/a' }, null)).status, 401)
    assert.equal((await admin(addr, '/purge', { url: 'http://site.test/a' }, 'wrong')).status, 401)
    assert.equal((await admin(addr, '/purge', { url: 'x', tag: 'y' })).status, 400)
    assert.equal((await admin(addr, '/purge', { color: 'x' })).status, 400)
    assert.equal(f.edge.cache!.store.count, 4)

    assert.deepEqual((await admin(addr, '/purge', { url: 'http://site.test/a' })).json, {
      purged: 1,
    })
    assert.equal(await state('/a'), 504)
    assert.equal(await state('/img/1'), 200)

    assert.deepEqual((await admin(addr, '/purge', { prefix: 'http://site.test/img/' })).json, {
      purged: 2,
    })
    assert.equal(await state('/img/2'), 504)

    await warm()
    assert.deepEqual((await admin(addr, '/purge', { host: 'other.test' })).json, { purged: 1 })
    assert.equal(await state('/o', 'other.test'), 504)
    assert.equal(await state('/a'), 200)

    assert.deepEqual((await admin(addr, '/purge', { tag: 'images' })).json, { purged: 2 })
    assert.equal(await state('/img/1'), 504)
    assert.equal(await state('/a'), 200)
    assert.deepEqual((await admin(addr, '/purge', { tag: 'all' })).json, { purged: 1 })
    assert.equal(f.edge.cache!.store.count, 0)
  } finally {
    await f.close()
    await origin.close()
  }
})
