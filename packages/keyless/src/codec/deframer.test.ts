import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { concat, toHex } from '@outpost/wire'
import { KeylessFormatError } from '../errors.ts'
import { Op } from './constants.ts'
import { Deframer } from './deframer.ts'
import { encodeFrame } from './frame.ts'
import { arbOperation } from '../../test/vectors.ts'

test('Deframer.push() returns the same frames however the stream is split', () => {
  fc.assert(
    fc.property(
      fc.array(arbOperation, { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
      (ops, cuts) => {
        const frames = ops.map((op, i) => encodeFrame(i, op, i % 2 === 0 ? 'none' : 'gokeyless'))
        const stream = concat(...frames)
        const d = new Deframer()
        const got: Uint8Array[] = []
        let off = 0
        for (let i = 0; off < stream.length; i++) {
          const n = cuts[i % cuts.length] ?? 1
          got.push(...d.push(stream.subarray(off, off + n)))
          off += n
        }
        assert.deepEqual(got.map(toHex), frames.map(toHex))
        assert.equal(d.pendingBytes, 0)
      },
    ),
    { numRuns: 200 },
  )
})

test('Deframer.push() returns nothing for a proper prefix, and holds it back', () => {
  const f = encodeFrame(1, { opcode: Op.Ping })
  for (const n of [1, 7, 8, 9, f.length - 1]) {
    const d = new Deframer()
    assert.deepEqual(d.push(f.subarray(0, n)), [])
    assert.equal(d.pendingBytes, n)
    assert.deepEqual(d.push(f.subarray(n)).map(toHex), [toHex(f)])
  }
})

test('Deframer.push() handles a zero-length body', () => {
  const d = new Deframer()
  assert.deepEqual(d.push(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 1, 1, 0)).length, 1)
  assert.equal(d.pendingBytes, 2)
})

test('Deframer.push() rejects a Length over its limit and stays failed', () => {
  const d = new Deframer({ maxBodyBytes: 1024 })
  assert.equal(d.push(encodeFrame(1, { opcode: Op.Ping, payload: new Uint8Array(1000) })).length, 1)
  const big = encodeFrame(2, { opcode: Op.Ping, payload: new Uint8Array(1100) })
  assert.throws(() => d.push(big), /Length 1107 exceeds the limit of 1024/)
  assert.throws(() => d.push(encodeFrame(3, { opcode: Op.Ping })), KeylessFormatError)
})

test('Deframer.push() returns frames inside one chunk as views of it, and copies split ones', () => {
  const a = encodeFrame(1, { opcode: Op.Ping })
  const b = encodeFrame(2, { opcode: Op.Ping, payload: Uint8Array.of(7) })
  const chunk = concat(a, b, b.subarray(0, 100))
  const d = new Deframer()
  const [fa, fb] = d.push(chunk)
  assert.equal(fa!.buffer, chunk.buffer)
  assert.equal(fb!.buffer, chunk.buffer)
  assert.equal(toHex(fb!), toHex(b))
  const [fc2] = d.push(b.subarray(100))
  assert.notEqual(fc2!.buffer, chunk.buffer)
  assert.equal(toHex(fc2!), toHex(b))
})

test('Deframer.pushEach() reports the frames push() returns, as ranges, however the stream is split', () => {
  fc.assert(
    fc.property(
      fc.array(arbOperation, { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
      (ops, cuts) => {
        const frames = ops.map((op, i) => encodeFrame(i, op, i % 2 === 0 ? 'none' : 'gokeyless'))
        const stream = concat(...frames)
        const d = new Deframer()
        const got: string[] = []
        let off = 0
        for (let i = 0; off < stream.length; i++) {
          const n = cuts[i % cuts.length] ?? 1
          const chunk = stream.subarray(off, off + n)
          d.pushEach(chunk, (bytes, start, end) => {
            // Inside the chunk: the chunk itself; split: the deframer's copy, whole.
            if (bytes !== chunk) assert.deepEqual([start, end], [0, bytes.length])
            got.push(toHex(bytes.subarray(start, end)))
          })
          off += n
        }
        assert.deepEqual(got, frames.map(toHex))
        assert.equal(d.pendingBytes, 0)
      },
    ),
    { numRuns: 200 },
  )
})
