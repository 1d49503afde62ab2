/**
 * Time-boxed fuzz of serveConnection() (undici test/fuzzing style): random byte
 * streams, valid frames and mutated frames, split at random points. The process
 * must never crash, and everything the server writes must be a well-formed
 * frame carrying an answer opcode and an ID that was sent.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { duplexPair } from 'node:stream'
import fc from 'fast-check'
import { concat } from '@outpost/wire'
import {
  Deframer,
  ErrorCode,
  Op,
  decodeFrame,
  encodeFrame,
  errorResponse,
  serveConnection,
  type Frame,
} from '../src/index.ts'
import { arbOperation } from './vectors.ts'

const TIME_LIMIT_MS = Number(process.env['KEYLESS_FUZZ_MS'] ?? 4000)

const arbChunk = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc
    .tuple(fc.integer({ min: 0, max: 0xffffffff }), arbOperation)
    .map(([id, op]) => encodeFrame(id, op, 'none')),
  fc
    .tuple(
      fc.integer({ min: 0, max: 0xffffffff }),
      arbOperation,
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
    )
    .map(([id, op, at, v]) => {
      const f = encodeFrame(id, op, 'none')
      f[8 + (at % Math.max(1, f.length - 8))] = v // corrupt one body byte, keep Length
      return f
    }),
  // A bare header: tiny or huge Length.
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 255 }))
    .map(([len, major]) => Uint8Array.of(major, 0, len >> 8, len & 0xff, 0, 0, 0, 1)),
)

test('serveConnection() survives random streams and only writes well-formed answers', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbChunk, { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }),
      async (chunks, cuts) => {
        const [client, server] = duplexPair()
        serveConnection(
          server,
          (op) =>
            Promise.resolve(
              op.opcode === Op.RsaDecrypt
                ? errorResponse(ErrorCode.BadOpcode)
                : { opcode: Op.Response, payload: op.payload ?? new Uint8Array(0) },
            ),
          { peer: { remoteAddress: 'fuzz' }, maxInFlight: 4, idleTimeoutMs: 2000 },
        )
        const answers: Frame[] = []
        const d = new Deframer()
        const done = new Promise<void>((resolve) => {
          client.on('data', (c: Uint8Array) => {
            for (const f of d.push(c)) answers.push(decodeFrame(f))
          })
          client.on('end', resolve)
          client.on('close', resolve)
        })
        const stream = concat(...chunks)
        let off = 0
        for (let i = 0; off < stream.length; i++) {
          const n = cuts[i % cuts.length] ?? 1
          client.write(stream.subarray(off, off + n))
          off += n
        }
        client.end()
        await done
        assert.equal(d.pendingBytes, 0)
        for (const a of answers) {
          assert.equal(a.major, 1)
          assert.ok([Op.Response, Op.Pong, Op.Error].includes(a.op.opcode as 0xf0))
          if (a.op.opcode === Op.Error) assert.equal(a.op.payload?.length, 1)
        }
        client.destroy()
      },
    ),
    { interruptAfterTimeLimit: TIME_LIMIT_MS, numRuns: 100_000 },
  )
})
