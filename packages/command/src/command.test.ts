import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { runCommand, UsageError, str, type Command } from './command.ts'

function io() {
  const out = new PassThrough()
  const err = new PassThrough()
  let o = ''
  let e = ''
  out.on('data', (d: Buffer) => (o += d.toString()))
  err.on('data', (d: Buffer) => (e += d.toString()))
  return { out, err, text: () => ({ o, e }) }
}

const seen: string[] = []
const root: Command = {
  name: 'outpost',
  summary: 'Test root',
  subcommands: [
    {
      name: 'keyserver',
      summary: 'Key server',
      subcommands: [
        {
          name: 'unseal',
          summary: 'Give one share',
          args: 'SHARE',
          options: {
            addr: { type: 'string', description: 'Admin address', default: '127.0.0.1:2408' },
          },
          run: (a) => {
            seen.push(`${str(a, 'addr')}|${a.positionals.join(',')}`)
            return 0
          },
        },
        {
          name: 'fail',
          summary: 'Fails',
          run: () => {
            throw new UsageError('Missing required option --x')
          },
        },
      ],
    },
  ],
}

test('runCommand() dispatches to nested subcommands with options and positionals', async () => {
  const s = io()
  assert.equal(await runCommand(root, ['keyserver', 'unseal', '--addr', '1.2.3.4:5', 'abc'], s), 0)
  assert.deepEqual(seen.pop(), '1.2.3.4:5|abc')
  assert.equal(await runCommand(root, ['keyserver', 'unseal', 'z'], s), 0)
  assert.deepEqual(seen.pop(), '127.0.0.1:2408|z')
})

test('runCommand() prints help at every level', async () => {
  const s = io()
  assert.equal(await runCommand(root, ['keyserver', '--help'], s), 0)
  assert.match(s.text().o, /Usage: outpost keyserver <command>/)
  assert.match(s.text().o, /unseal +Give one share/)
  const s2 = io()
  assert.equal(await runCommand(root, ['keyserver', 'unseal', '-h'], s2), 0)
  assert.match(s2.text().o, /--addr VALUE +Admin address \(default: 127\.0\.0\.1:2408\)/)
})

test('runCommand() rejects unknown flags and commands with exit code 2', async () => {
  const s = io()
  assert.equal(await runCommand(root, ['keyserver', 'unseal', '--nope'], s), 2)
  assert.match(s.text().e, /Unknown option '--nope'/)
  const s2 = io()
  assert.equal(await runCommand(root, ['keyserver', 'bogus'], s2), 2)
  assert.match(s2.text().e, /Unknown command 'outpost keyserver bogus'/)
  const s3 = io()
  assert.equal(await runCommand(root, ['keyserver', 'fail'], s3), 2)
  assert.match(s3.text().e, /Missing required option --x/)
})
