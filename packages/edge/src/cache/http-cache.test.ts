import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { DiskStore } from './disk-store.ts'
import { NullEnvelope } from './envelope.ts'
import { HttpCache, hostOf, tagsOf } from './http-cache.ts'

test('HttpCache: round trip with Vary; an undecodable entry is a miss and is deleted (property)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-hc-'))
  try {
    // The null envelope lets the test plant arbitrary plaintext behind a valid seal.
    const store = await DiskStore.open({ dir, maxBytes: 1 << 24, envelope: new NullEnvelope() })
    const cache = new HttpCache(store)
    const stored = {
      status: 200,
      headers: { vary: 'accept', 'cache-tag': 'a, b' },
      requestTime: 1,
      responseTime: 2,
    }
    await cache.put(
      'http://h.test/x',
      'H.test',
      { accept: 'text/html' },
      stored,
      Buffer.from('html'),
    )
    await cache.put(
      'http://h.test/x',
      'h.test',
      { accept: 'application/json' },
      stored,
      Buffer.from('json'),
    )
    assert.equal(
      (await cache.lookup('http://h.test/x', { accept: 'text/html' }))?.body.toString(),
      'html',
    )
    assert.equal(
      (await cache.lookup('http://h.test/x', { accept: 'application/json' }))?.body.toString(),
      'json',
    )
    assert.equal(await cache.lookup('http://h.test/x', { accept: 'image/png' }), undefined)
    assert.deepEqual(store.variants('http://h.test/x')[0]?.tags, ['a', 'b'])
    // Well-formed frames around JSON that is not our metadata.
    for (const json of ['null', '4', '{"v":1}', '{"v":1,"status":"x","headers":{}}', '[]']) {
      const j = Buffer.from(json)
      const frame = Buffer.concat([Buffer.from([0, 0, 0, j.length]), j])
      await store.set('http://h.test/j', frame, {
        primary: 'http://h.test/j',
        host: 'h.test',
        tags: [],
        vary: {},
      })
      assert.equal(await cache.lookup('http://h.test/j', {}), undefined, json)
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (garbage) => {
        const info = { primary: 'http://h.test/g', host: 'h.test', tags: [], vary: {} }
        await store.set('http://h.test/g', garbage, info)
        const got = await cache.lookup('http://h.test/g', {})
        if (got === undefined) assert.equal(store.variants('http://h.test/g').length, 0)
        else assert.equal(typeof got.stored.status, 'number')
      }),
      { numRuns: 100 },
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('hostOf() and tagsOf()', () => {
  assert.equal(hostOf({ host: 'Example.COM:8443' }), 'example.com')
  assert.equal(hostOf({ ':authority': '[::1]:443' }), '[::1]')
  assert.equal(hostOf({}), undefined)
  assert.deepEqual(tagsOf({ 'cache-tag': ['a, b', ' c ,'] }), ['a', 'b', 'c'])
})
