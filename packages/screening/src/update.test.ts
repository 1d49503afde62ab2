import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { runCommand } from '@outpost/command'
import { listsCommand } from './cli.ts'
import { ScreeningError } from './errors.ts'
import { loadLists } from './lists.ts'
import { updateLists } from './update.ts'

const fx = fileURLToPath(new URL('../test/fixtures/lists/', import.meta.url))
const routes: Record<string, string> = {
  '/SDN.CSV': 'us-ofac-sdn/sdn_2024-05-03.csv',
  '/ALT.CSV': 'us-ofac-sdn/alt_2024-05-03.csv',
  '/ADD.CSV': 'us-ofac-sdn/add_2024-05-03.csv',
  '/SDN_COMMENTS.CSV': 'us-ofac-sdn/sdn_comments_2024-05-03.csv',
  '/CONS_PRIM.CSV': 'us-ofac-nonsdn/cons_prim.csv',
  '/CONS_ALT.CSV': 'us-ofac-nonsdn/cons_alt.csv',
  '/CONS_ADD.CSV': 'us-ofac-nonsdn/cons_add.csv',
  '/CONS_COMMENTS.CSV': 'us-ofac-nonsdn/cons_comments.csv',
  '/consolidated.xml': 'un-sc/consolidated_2026-02-27.xml',
  '/content': 'eu-fsf/eu-fsf_2026-11-20.xml',
  '/UK-Sanctions-List.csv': 'uk/UK-Sanctions-List_2026-11-20.csv',
}
const requests: string[] = []
const server = createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0] ?? ''
  requests.push(path)
  if (path.startsWith('/broken/')) {
    res.writeHead(200).end('<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL>')
    return
  }
  if (path.startsWith('/missing/')) {
    res.writeHead(500).end()
    return
  }
  const file = routes[path]
  if (file === undefined) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200).end(readFileSync(join(fx, file)))
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
const work = mkdtempSync(join(tmpdir(), 'outpost-lists-'))
after(() => {
  server.close()
  rmSync(work, { recursive: true, force: true })
})

test('outpost lists update fetches every list into the shared layout and prints versions', async () => {
  const dir = join(work, 'a')
  const out = new PassThrough()
  let text = ''
  out.on('data', (d: Buffer) => (text += d.toString()))
  const code = await runCommand(
    { name: 'outpost', summary: '', subcommands: [listsCommand] },
    ['lists', 'update', '--dir', dir, '--base-url', base],
    { out, err: out },
  )
  assert.equal(code, 0, text)
  const lines = text.trim().split('\n')
  assert.deepEqual(
    lines.map((l) => l.split(/\s+/)[0]),
    ['us-ofac-sdn', 'us-ofac-cons', 'un-sc', 'eu-fsf', 'uk'],
  )
  assert.match(lines[2] ?? '', /^un-sc\s+2026-02-27\s+sha256:[0-9a-f]{64}\s+3 entries$/)
  assert.deepEqual(readdirSync(join(dir, 'un-sc')), ['consolidated_2026-02-27.xml'])
  assert.deepEqual(readdirSync(join(dir, 'eu-fsf')), ['eu-fsf_2026-11-20.xml'])
  assert.equal(readdirSync(join(dir, 'us-ofac-sdn')).length, 4)
  const loaded = await loadLists(dir)
  assert.deepEqual(
    loaded.map((l) => [l.version.list, l.version.entityCount]),
    [
      ['us-ofac-sdn', 6],
      ['us-ofac-cons', 2],
      ['un-sc', 3],
      ['eu-fsf', 2],
      ['uk', 3],
    ],
  )
})

test('updateLists() never installs a broken or failed download', async () => {
  const dir = join(work, 'b')
  await updateLists({ dir, only: ['un-sc'], baseUrl: base })
  const before = readdirSync(join(dir, 'un-sc'))
  await assert.rejects(
    updateLists({ dir, only: ['un-sc'], sourceUrls: { 'un-sc': `${base}broken/` } }),
    (e: unknown) => e instanceof ScreeningError && e.code === 'ERR_SCREENING_PARSE',
  )
  await assert.rejects(
    updateLists({ dir, only: ['un-sc'], sourceUrls: { 'un-sc': `${base}missing/` } }),
    /HTTP 500/,
  )
  assert.deepEqual(readdirSync(join(dir, 'un-sc')), before)
  assert.ok(requests.includes('/broken/consolidated.xml'))
})

test('outpost lists show prints versions and counts', async () => {
  const out = new PassThrough()
  let text = ''
  out.on('data', (d: Buffer) => (text += d.toString()))
  const code = await runCommand(
    { name: 'outpost', summary: '', subcommands: [listsCommand] },
    ['lists', 'show', '--lists', fx],
    { out, err: out },
  )
  assert.equal(code, 0, text)
  assert.match(
    text,
    /^us-ofac-sdn\s+2024-05-03\s+sha256:[0-9a-f]{64}\s+6 entries \(organization 3, person 2, aircraft 1\)$/m,
  )
  assert.match(text, /^uk\s+2026-11-20 .* 3 entries .*1 rows skipped$/m)
})
