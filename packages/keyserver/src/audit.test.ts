import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuditLog, verifyAuditFile, verifyAuditText, type AuditEntry } from './audit.ts'

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
