import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { PassThrough, Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { loadLists } from './lists.ts'
import { ScreeningIndex } from './matcher.ts'
import { parseQuery, screenLines } from './screen-stream.ts'

const dir = fileURLToPath(new URL('../test/fixtures/lists/', import.meta.url))
const index = ScreeningIndex.fromLists(await loadLists(dir))

async function run(lines: string[], explain = false): Promise<unknown[]> {
  const out = new PassThrough()
  let text = ''
  out.on('data', (d: Buffer) => (text += d.toString()))
  await screenLines(index, Readable.from([lines.join('\n') + '\n']), out, { explain })
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as unknown)
}

test('screenLines() writes one line per query, in order, errors in place', async () => {
  const out = await run([
    '{"name":"Сбербанк России","type":"organization"}',
    'not json',
    '{"name":"Vladimir Putin","type":"person","dob":"1972"}',
    '{"name":"Vladimir Putin","type":"vessel"}',
    '{"name":"Putin","type":"person","dob":"07.10.1952"}',
    '{"name":"Владимир Путин","type":"person","dob":"1952-10-07","country":"ru"}',
  ])
  assert.equal(out.length, 6)
  const first = out[0] as { matches: { id: string; score: number; decision: string }[] }
  assert.deepEqual(first.matches.map((m) => m.id).sort(), [
    'eu-fsf:160500',
    'uk:RUS0254',
    'us-ofac-sdn:17018',
  ])
  for (const m of first.matches) {
    assert.deepEqual(Object.keys(m), ['id', 'name', 'score', 'decision'])
    assert.ok(m.score >= 0 && m.score <= 1)
  }
  assert.equal((out[1] as { error: { code: string } }).error.code, 'ERR_SCREENING_QUERY')
  assert.deepEqual(out[2], { matches: [] })
  assert.match((out[3] as { error: { message: string } }).error.message, /'type' must be/)
  assert.match((out[4] as { error: { message: string } }).error.message, /'dob' must be/)
  const last = out[5] as { matches: { id: string; decision: string }[] }
  assert.deepEqual(last.matches.map((m) => [m.id, m.decision]).sort(), [
    ['uk:RUS0204', 'match'],
    ['us-ofac-sdn:22146', 'match'],
  ])
})

test('screenLines() --explain adds the evidence', async () => {
  const [r] = (await run(['{"name":"Dmitrii Kiselev","type":"person"}'], true)) as {
    matches: { id: string; evidence: { matchedName: string; pairs: unknown[] } }[]
  }[]
  const m = r?.matches.find((x) => x.id === 'eu-fsf:150321')
  assert.ok(m)
  assert.ok(m.evidence.pairs.length >= 2)
})

test('parseQuery() rejects unknown fields and bad types', () => {
  assert.throws(() => parseQuery({ name: 'x', type: 'person', extra: 1 }), /unknown field 'extra'/)
  assert.throws(() => parseQuery([]), /must be a JSON object/)
  assert.throws(() => parseQuery({ name: '', type: 'person' }), /non-empty/)
  assert.throws(() => parseQuery({ name: 'x', type: 'person', country: 'RUS' }), /alpha-2/)
  assert.deepEqual(parseQuery({ name: 'x', type: 'organization', country: 'ru' }), {
    name: 'x',
    type: 'organization',
    country: 'RU',
  })
})

test('outpost screen reads stdin and writes JSON lines (as its own process)', async () => {
  const main = fileURLToPath(new URL('../test/run-cli.ts', import.meta.url))
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [main, 'screen', '--lists', dir, '--format', 'jsonl'],
      { timeout: 60_000 },
      (err, out) => {
        if (err) reject(new Error(err.message, { cause: err }))
        else resolve(out)
      },
    )
    child.stdin?.end('{"name":"ПАО Сбербанк","type":"organization"}\n{"name":"x"}\n')
  })
  const lines = stdout.trim().split('\n')
  assert.equal(lines.length, 2)
  assert.match(lines[0] ?? '', /"id":"us-ofac-sdn:17018"/)
  assert.match(lines[1] ?? '', /^\{"error":/)
})
