import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  AuditLog,
  WRITE_BYTES,
  verifyAuditFile,
  verifyAuditText,
  type AuditEntry,
} from './audit.ts'

const entry = (i: number): AuditEntry => ({
  node: `node-${i}`,
  ski: 'ab'.repeat(20),
  op: 'SignTls13',
  sni: 'example.com',
  clientIp: '192.0.2.1',
  result: i % 3 === 0 ? 'PolicyDenied' : 'ok',
  latencyUs: 100 + i,
})

async function writeLog(n: number): Promise<{ file: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'))
  const file = join(dir, 'audit.log')
  const log = await AuditLog.open(file)
  for (let i = 0; i < n; i++) log.append(entry(i))
  await log.close()
  return { file, dir }
}

test('AuditLog writes chained records that verify', async (t) => {
  const { file, dir } = await writeLog(10)
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
  assert.equal(lines.length, 10)
  const rec = JSON.parse(lines[3]!)
  assert.equal(rec.seq, 3)
  assert.equal(rec.node, 'node-3')
  assert.equal(rec.result, 'PolicyDenied')
  assert.match(rec.time, /^\d{4}-\d\d-\d\dT/)
  assert.match(rec.prev, /^[0-9a-f]{64}$/)
  assert.deepEqual(Object.keys(rec), [
    'seq',
    'prev',
    'time',
    'node',
    'ski',
    'op',
    'sni',
    'clientIp',
    'result',
    'latencyUs',
  ])
  assert.deepEqual(await verifyAuditFile(file), { ok: true, count: 10 })
})

test('AuditLog escapes client-controlled strings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'))
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const file = join(dir, 'audit.log')
  const log = await AuditLog.open(file)
  const sni = 'evil"},"result":"ok\n{"x":"\u2028'
  log.append({ ...entry(1), sni, node: null, clientIp: null })
  await log.close()
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
  assert.equal(lines.length, 1)
  const rec = JSON.parse(lines[0]!)
  assert.equal(rec.sni, sni)
  assert.equal(rec.node, null)
  assert.equal(rec.result, 'ok')
  assert.deepEqual(await verifyAuditFile(file), { ok: true, count: 1 })
})

test('AuditLog continues the chain of an existing file', async (t) => {
  const { file, dir } = await writeLog(3)
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const log = await AuditLog.open(file)
  log.append(entry(3))
  log.append(entry(4))
  await log.close()
  assert.deepEqual(await verifyAuditFile(file), { ok: true, count: 5 })
  assert.equal(JSON.parse(readFileSync(file, 'utf8').trimEnd().split('\n')[4]!).seq, 4)
})

test('verifyAuditText() detects an edited line', async (t) => {
  const { file, dir } = await writeLog(6)
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const lines = readFileSync(file, 'utf8').split('\n')
  lines[2] = lines[2]!
    .replace('"result":"ok"', '"result":"PolicyDenied"')
    .replace('node-2', 'node-X')
  const v = verifyAuditText(lines.join('\n'))
  assert.ok(!v.ok && v.line === 4, JSON.stringify(v))
})

test('verifyAuditText() detects a deleted line', async (t) => {
  const { file, dir } = await writeLog(6)
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const lines = readFileSync(file, 'utf8').split('\n')
  lines.splice(1, 1)
  const v = verifyAuditText(lines.join('\n'))
  assert.ok(!v.ok && v.line === 2, JSON.stringify(v))
  // Deleting the first line breaks at the (new) first line.
  const head = readFileSync(file, 'utf8').split('\n').slice(1)
  const w = verifyAuditText(head.join('\n'))
  assert.ok(!w.ok && w.line === 1 && /genesis/.test(w.reason), JSON.stringify(w))
})

test('verifyAuditText() detects reordered lines', async (t) => {
  const { file, dir } = await writeLog(6)
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const lines = readFileSync(file, 'utf8').split('\n')
  ;[lines[3], lines[4]] = [lines[4]!, lines[3]!]
  const v = verifyAuditText(lines.join('\n'))
  assert.ok(!v.ok && v.line === 4, JSON.stringify(v))
})

test('verifyAuditText() rejects garbage and accepts an empty log', () => {
  assert.deepEqual(verifyAuditText(''), { ok: true, count: 0 })
  const v = verifyAuditText('not json\n')
  assert.ok(!v.ok && v.line === 1)
  const w = verifyAuditText('{"a":1}\n')
  assert.ok(!w.ok && /no seq/.test(w.reason))
})

test('AuditLog.open() refuses to continue a file whose last line is not a record', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'))
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const file = join(dir, 'audit.log')
  writeFileSync(file, 'garbage\n')
  await assert.rejects(AuditLog.open(file), /last line is not JSON/)
})

test('AuditLog writes each record as JSON.stringify would, chained line by line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'))
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const file = join(dir, 'audit.log')
  // Continue a chain just below a power of ten, so seq changes digit count.
  const first = JSON.stringify({ seq: 99_997, prev: '0'.repeat(64) })
  writeFileSync(file, first + '\n')
  const long = 'a'.repeat(3000) + '.example'
  const entries: AuditEntry[] = [
    entry(1),
    entry(1), // same fields again: the encoded middle is reused
    { ...entry(2), latencyUs: 0 },
    { ...entry(2), latencyUs: 99.5 },
    { ...entry(2), latencyUs: Number.NaN },
    { ...entry(2), latencyUs: -3 },
    { ...entry(2), latencyUs: 1e21 },
    { ...entry(2), latencyUs: 123_456_789_012 },
    { ...entry(3), sni: 'bücher.example', node: null, ski: null, clientIp: null },
    { ...entry(3), sni: '\u2028"\\\u0001' },
    { ...entry(4), sni: long }, // longer than the scratch buffer
    entry(4),
  ]
  const log = await AuditLog.open(file)
  // Two batches: one written at the end of a turn, one by close().
  entries.slice(0, 5).forEach((e) => {
    log.append(e)
  })
  await new Promise((r) => setImmediate(r))
  entries.slice(5).forEach((e) => {
    log.append(e)
  })
  await log.close()
  const lines = readFileSync(file, 'utf8').split('\n')
  assert.equal(lines.pop(), '', 'every line ends in a newline')
  assert.equal(lines.length, entries.length + 1)
  let prev = hash('sha256', first)
  entries.forEach((e, i) => {
    const line = lines[i + 1] as string
    const time = (JSON.parse(line) as { time: string }).time
    assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    const expected = JSON.stringify({
      seq: 99_998 + i,
      prev,
      time,
      node: e.node,
      ski: e.ski,
      op: e.op,
      sni: e.sni,
      clientIp: e.clientIp,
      result: e.result,
      latencyUs: Number.isFinite(e.latencyUs) ? Math.round(e.latencyUs) : 0,
    })
    assert.equal(line, expected, `line ${i + 2}`)
    prev = hash('sha256', line)
  })
  assert.deepEqual(await verifyAuditFile(file), { ok: true, count: entries.length + 1 })
})

test("AuditLog writes each turn's lines at the end of that turn by default", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'))
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const file = join(dir, 'audit.log')
  const log = await AuditLog.open(file)
  const lines = (): number => readFileSync(file, 'utf8').split('\n').length - 1
  log.append(entry(1))
  log.append(entry(2))
  assert.equal(lines(), 0, 'not within the turn that appended')
  await new Promise((r) => setImmediate(r))
  assert.equal(lines(), 2, 'written at the end of the turn, no timer, no flush')
  await log.close()
  await assert.rejects(
    AuditLog.open(file, { writeDelayMs: 5000 }),
    /writeDelayMs must be 0\.\.1000/,
  )
})

test('AuditLog with writeDelayMs writes its lines that long after the first, or at once past WRITE_BYTES', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'))
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const file = join(dir, 'audit.log')
  const writeDelayMs = 20
  const log = await AuditLog.open(file, { writeDelayMs })
  const lines = (): number => readFileSync(file, 'utf8').split('\n').length - 1
  log.append(entry(1))
  await new Promise((r) => setImmediate(r))
  assert.equal(lines(), 0, 'chained at the end of the turn, not written yet')
  await new Promise((r) => setTimeout(r, writeDelayMs + 30))
  assert.equal(lines(), 1, 'written after writeDelayMs without a flush')
  // One turn's records beyond WRITE_BYTES are written at the end of that turn.
  const n = Math.ceil(WRITE_BYTES / 200)
  for (let i = 0; i < n; i++) log.append(entry(i))
  await new Promise((r) => setImmediate(r))
  assert.equal(lines(), 1 + n)
  log.append(entry(2))
  await log.close()
  assert.equal(lines(), n + 2, 'close() writes what is pending')
  assert.deepEqual(await verifyAuditFile(file), { ok: true, count: n + 2 })
})

test('AuditLog times records on the wall clock, read once per turn', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'))
  t.after(() => {
    rmSync(dir, { recursive: true })
  })
  const file = join(dir, 'audit.log')
  const log = await AuditLog.open(file)
  const before = Date.now()
  log.append(entry(1))
  const at = performance.now()
  log.append(entry(2), at + 1500) // happened 1.5 s after the turn's first record
  log.append(entry(3), at)
  const after = Date.now()
  await log.close()
  const times = readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => Date.parse((JSON.parse(l) as { time: string }).time))
  assert.ok(times[0]! >= before && times[0]! <= after, `${times[0]} in [${before}, ${after}]`)
  assert.ok(Math.abs(times[1]! - times[0]! - 1500) <= 2, `${times[1]! - times[0]!}`)
  assert.ok(times[2]! >= before && times[2]! <= after + 1)
})
