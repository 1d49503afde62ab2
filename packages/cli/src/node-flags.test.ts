import { test } from 'node:test'
import assert from 'node:assert/strict'
import { KEY_SERVER_NODE_FLAGS } from '@outpost/keyserver/node-flags'
import { missingNodeFlags, serviceNodeFlags } from './node-flags.ts'

test('serviceNodeFlags: the key server process gets its V8 flags, other commands none', () => {
  assert.deepEqual(
    serviceNodeFlags(['keyserver', 'run', '--config', 'k.yaml']),
    KEY_SERVER_NODE_FLAGS,
  )
  for (const f of [
    '--max-semi-space-size=4',
    '--incremental-marking-soft-trigger=80',
    '--incremental-marking-hard-trigger=90',
  ]) {
    assert.ok(KEY_SERVER_NODE_FLAGS.includes(f), f)
  }
  for (const args of [
    [],
    ['up'],
    ['keyserver'],
    ['keyserver', 'status'],
    ['edge', 'run'],
    ['run'],
  ]) {
    assert.deepEqual(serviceNodeFlags(args), [], args.join(' '))
  }
})

test('missingNodeFlags: a flag the operator already gave node (argv or NODE_OPTIONS) is kept', () => {
  const want = ['--max-semi-space-size=4', '--stack-size=2000']
  assert.deepEqual(missingNodeFlags(want, [], undefined), want)
  assert.deepEqual(missingNodeFlags(want, ['--max-semi-space-size=8'], undefined), [
    '--stack-size=2000',
  ])
  // V8 accepts underscores for dashes; NODE_OPTIONS is split on whitespace.
  assert.deepEqual(missingNodeFlags(want, [], ' --max_semi_space_size=16  --stack-size=900 '), [])
  assert.deepEqual(missingNodeFlags(want, ['--max-old-space-size=512'], '--inspect'), want)
  // Already restarted with them: nothing missing, so no second restart.
  assert.deepEqual(missingNodeFlags(want, want, ''), [])
})
