import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DiskStore, type EntryInfo } from './disk-store.ts'
import { AesGcmEnvelope } from './envelope.ts'

const info = (primary: string, tags: string[] = []): EntryInfo => ({
  primary,
  host: new URL(primary).hostname,
  tags,
  vary: {},
})

async function withStore(
  fn: (s: DiskStore, dir: string) => Promise<void>,
  maxBytes = 1 << 20,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-store-'))
  try {
    const s = await DiskStore.open({ dir, maxBytes, envelope: new AesGcmEnvelope() })
    await fn(s, dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function dirBytes(dir: string): Buffer {
  return Buffer.concat(
    readdirSync(dir).map((n) => Buffer.concat([Buffer.from(n), readFileSync(join(dir, n))])),
  )
}

test('DiskStore: no plaintext body or URL bytes anywhere in the directory (names or contents)', async () => {
  await withStore(async (s, dir) => {
    const url = 'https://site.test/private/plans-for-q3.pdf'
    await s.set(url, Buffer.from('TOP-SECRET-BODY-MARKER'), info(url))
    assert.deepEqual(await s.get(url), Buffer.from('TOP-SECRET-BODY-MARKER'))
    const all = dirBytes(dir)
    for (const needle of ['TOP-SECRET-BODY-MARKER', 'plans-for-q3', 'site.test', 'private']) {
      assert.equal(all.indexOf(Buffer.from(needle)), -1, needle)
    }
  })
})

test('DiskStore: a tampered entry is a miss and is deleted', async () => {
  await withStore(async (s, dir) => {
    const url = 'https://site.test/a'
    await s.set(url, Buffer.from('hello'), info(url))
    const [name] = readdirSync(dir)
    const file = join(dir, name!)
    const bytes = readFileSync(file)
    bytes[bytes.length - 20]! ^= 1
    writeFileSync(file, bytes)
    assert.equal(await s.get(url), undefined)
    assert.equal(s.rejected, 1)
    assert.deepEqual(readdirSync(dir), [])
    assert.equal(s.count, 0)
  })
})

test('DiskStore: a new process (new key) sees an empty store and deletes the old files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-store-'))
  try {
    const a = await DiskStore.open({ dir, maxBytes: 1 << 20, envelope: new AesGcmEnvelope() })
    await a.set('https://site.test/x', Buffer.from('x'), info('https://site.test/x'))
    writeFileSync(join(dir, 'operator-notes.txt'), 'not ours')
    assert.equal(readdirSync(dir).length, 2)
    const b = await DiskStore.open({ dir, maxBytes: 1 << 20, envelope: new AesGcmEnvelope() })
    assert.equal(b.count, 0)
    assert.equal(await b.get('https://site.test/x'), undefined)
    assert.deepEqual(readdirSync(dir), ['operator-notes.txt'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('DiskStore: LRU eviction keeps the total under maxBytes and drops the least recently used', async () => {
  // Each entry seals to 1000 + 48 bytes; room for three.
  await withStore(async (s, dir) => {
    const body = Buffer.alloc(1000, 7)
    const u = (i: number): string => `https://site.test/${i}`
    for (const i of [1, 2, 3]) await s.set(u(i), body, info(u(i)))
    assert.ok(await s.get(u(1))) // 1 is now the most recently used
    await s.set(u(4), body, info(u(4)))
    assert.equal(s.count, 3)
    assert.ok(s.bytes <= 3200)
    assert.equal(await s.get(u(2)), undefined) // evicted
    assert.ok(await s.get(u(1)))
    assert.ok(await s.get(u(3)))
    assert.ok(await s.get(u(4)))
    assert.equal(readdirSync(dir).length, 3)
  }, 3200)
})

test('DiskStore: purge by url, prefix, host and tag', async () => {
  await withStore(async (s) => {
    const put = (u: string, tags: string[] = []): Promise<void> =>
      s.set(u, Buffer.from(u), info(u, tags))
    await put('https://a.test/x', ['red'])
    await put('https://a.test/img/1', ['blue'])
    await put('https://a.test/img/2', ['blue', 'red'])
    await put('https://b.test/y')
    assert.equal(await s.purge({ url: 'https://a.test/x' }), 1)
    assert.equal(await s.purge({ tag: 'red' }), 1)
    assert.equal(await s.purge({ prefix: 'https://a.test/img/' }), 1)
    assert.equal(await s.purge({ host: 'B.test' }), 1)
    assert.equal(s.count, 0)
  })
})

test('DiskStore: wipe() empties the directory and the store stays unusable', async () => {
  await withStore(async (s, dir) => {
    await s.set('https://a.test/x', Buffer.from('x'), info('https://a.test/x'))
    await s.wipe()
    assert.deepEqual(readdirSync(dir), [])
    assert.equal(await s.get('https://a.test/x'), undefined)
    await assert.rejects(s.set('https://a.test/x', Buffer.from('x'), info('https://a.test/x')), {
      code: 'ERR_EDGE_CACHE_WIPED',
    })
  })
})
