import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { findLists, loadLists } from './lists.ts'

const fx = fileURLToPath(new URL('../test/fixtures/lists/', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'outpost-lists-cache-'))
after(() => {
  rmSync(work, { recursive: true, force: true })
})

test('findLists() picks the newest dated snapshot and ignores the CC BY-NC directory', () => {
  const dir = join(work, 'layout')
  cpSync(fx, dir, { recursive: true })
  cpSync(join(fx, 'un-sc'), join(dir, 'eu-oj-transcribed-ccbync'), { recursive: true })
  const specs = findLists(dir)
  const sdn = specs.find((s) => s.list === 'us-ofac-sdn')
  assert.match(sdn?.files[0]?.path ?? '', /sdn_2024-05-03\.csv$/)
  assert.deepEqual(
    specs.map((s) => s.list),
    ['us-ofac-sdn', 'us-ofac-cons', 'un-sc', 'eu-fsf', 'uk'],
  )
  assert.throws(() => findLists(join(work, 'nope')), /is not a directory/)
})

test('loadLists() with a cache serves the same lists and re-parses when a file changes', async () => {
  const dir = join(work, 'cached')
  cpSync(fx, dir, { recursive: true })
  const cacheDir = join(work, 'cache')
  const first = await loadLists(dir, ['un-sc', 'uk'], { cacheDir })
  assert.equal(readdirSync(cacheDir).length, 2)
  const second = await loadLists(dir, ['un-sc', 'uk'], { cacheDir })
  assert.deepEqual(second, first)
  // Change the UN file: a new hash, a new parse (one entity fewer).
  writeFileSync(
    join(dir, 'un-sc', 'consolidated_2026-02-27.xml'),
    '<CONSOLIDATED_LIST dateGenerated="2026-03-01T00:00:00Z"><ENTITIES><ENTITY><FIRST_NAME>X CORP</FIRST_NAME><REFERENCE_NUMBER>XXe.001</REFERENCE_NUMBER></ENTITY></ENTITIES></CONSOLIDATED_LIST>',
  )
  const [un] = await loadLists(dir, ['un-sc'], { cacheDir })
  assert.ok(un)
  assert.equal(un.version.date, '2026-03-01')
  assert.deepEqual(
    un.entities.map((e) => e.id),
    ['un-sc:XXe.001'],
  )
  assert.notEqual(un.version.sha256, first[0]?.version.sha256)
})
