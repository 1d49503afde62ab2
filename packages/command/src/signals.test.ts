import { test } from 'node:test'
import assert from 'node:assert/strict'
import { untilSignal } from './signals.ts'

test('untilSignal() resolves with the signal and removes its listeners', async () => {
  const before = process.listenerCount('SIGWINCH')
  const p = untilSignal(['SIGWINCH', 'SIGHUP'])
  assert.equal(process.listenerCount('SIGWINCH'), before + 1)
  process.emit('SIGWINCH', 'SIGWINCH')
  assert.equal(await p, 'SIGWINCH')
  assert.equal(process.listenerCount('SIGWINCH'), before)
  assert.equal(process.listenerCount('SIGHUP'), 0)
})
