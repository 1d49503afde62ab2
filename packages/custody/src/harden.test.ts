import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'

// Runs in a child process so the "before" values are the defaults, and the test
// runner itself keeps its settings.
const CHILD = `
import { readFileSync } from 'node:fs'
import { hardenProcess, processHygiene } from ${JSON.stringify(new URL('./harden.ts', import.meta.url).href)}
const limits = () => (readFileSync('/proc/self/limits', 'utf8').match(/^Max core file size\\s+(\\S+)\\s+(\\S+)/m) ?? []).slice(1)
const status = () => (readFileSync('/proc/self/status', 'utf8').match(/^CoreDumping:\\s+(\\d+)/m) ?? [])[1]
const b = processHygiene()
const before = { dumpable: b.dumpable, soft: String(b.coreLimit.soft), limits: limits() }
const a = hardenProcess()
const after = { dumpable: a.dumpable, soft: String(a.coreLimit.soft), hard: String(a.coreLimit.hard), limits: limits(), coreDumping: status() }
process.stdout.write(JSON.stringify({ before, after }))
`

test(
  'hardenProcess: dumpable 1 → 0, RLIMIT_CORE → {0, 0}, seen in /proc/self',
  {
    skip: process.platform !== 'linux' ? 'Linux only' : false,
  },
  async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    const code = await new Promise((r) => child.once('close', r))
    assert.equal(code, 0, Buffer.concat(err).toString())
    const r = JSON.parse(Buffer.concat(out).toString()) as {
      before: { dumpable: number; limits: string[] }
      after: { dumpable: number; soft: string; hard: string; limits: string[]; coreDumping: string }
    }
    assert.equal(r.before.dumpable, 1, 'a fresh node process is dumpable')
    assert.equal(r.after.dumpable, 0)
    assert.equal(r.after.soft, '0')
    assert.equal(r.after.hard, '0')
    assert.deepEqual(r.after.limits, ['0', '0'])
    assert.equal(r.after.coreDumping, '0')
  },
)
