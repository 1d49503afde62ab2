import { test } from 'node:test'
import assert from 'node:assert/strict'
import { untilSignal } from './signals.ts'

test('untilSignal() resolves with the signal and removes its listeners', async () => {
  const before = process.listenerCount('SIGUSR2')
  const p = untilSignal(['SIGUSR2', 'SIGUSR1'])
  assert.equal(process.listenerCount('SIGUSR2'), before + 1)
  process.emit('SIGUSR2', 'SIGUSR2')
  assert.equal(await p, 'SIGUSR2')
  assert.equal(process.listenerCount('SIGUSR2'), before)
  assert.equal(process.listenerCount('SIGUSR1'), 0)
})
