import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { duplexPair } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { fromHex } from '@outpost/wire'
import { ClientConnection } from './client-connection.ts'
import { Op } from './codec/constants.ts'
import { Deframer } from './codec/deframer.ts'
import { decodeFrame, encodeFrame, type Operation } from './codec/frame.ts'
import { KeylessConnectionError, KeylessIdInUseError, KeylessTimeoutError } from './errors.ts'

/** A scripted peer: records request IDs, answers when told to. */
function peer(): {
  conn: ClientConnection
  ids: number[]
  answer(id: number, op: Operation): void
  raw(bytes: Uint8Array): void
  closed: Error[]
} {
  const [a, b] = duplexPair()
  const ids: number[] = []
  const closed: Error[] = []
  const d = new Deframer()
  b.on('data', (c: Uint8Array) => {
    for (const f of d.push(c)) ids.push(decodeFrame(f).id)
  })
  const conn = new ClientConnection(a, { name: 'test', onClose: (e) => closed.push(e) })
  return {
    conn,
    ids,
    answer: (id, op) => b.write(encodeFrame(id, op)),
    raw: (bytes) => b.write(bytes),
    closed,
  }
}

const sign: Operation = { opcode: Op.EcdsaSignSha256, payload: new Uint8Array(32) }

test('ClientConnection.send() uses sequential IDs and matches answers by ID', async () => {
  const p = peer()
  const r0 = p.conn.send(sign, { timeoutMs: 1000 })
  const r1 = p.conn.send(sign, { timeoutMs: 1000 })
  await sleep(5)
  assert.deepEqual(p.ids, [0, 1])
  p.answer(1, { opcode: Op.Response, payload: fromHex('01') })
  p.answer(0, { opcode: Op.Response, payload: fromHex('00') })
  assert.deepEqual((await r0).payload, fromHex('00'))
  assert.deepEqual((await r1).payload, fromHex('01'))
  p.conn.close()
})

test('ClientConnection.send() wraps IDs at 2^32 and fails if the wrapped ID is still outstanding', async () => {
  const p = peer()
  p.conn.nextRequestId = 0xffffffff
  const held = p.conn.send(sign, { timeoutMs: 1000 }) // ID 0xffffffff, left unanswered
  const next = p.conn.send(sign, { timeoutMs: 1000 }) // ID 0
  await sleep(5)
  assert.deepEqual(p.ids, [0xffffffff, 0])
  // 2^32 - 1 requests later, the counter is back at 0xffffffff.
  p.conn.nextRequestId = 0xffffffff
  await assert.rejects(p.conn.send(sign, { timeoutMs: 1000 }), KeylessIdInUseError)
  p.answer(0xffffffff, { opcode: Op.Response })
  p.answer(0, { opcode: Op.Response })
  await Promise.all([held, next])
  p.conn.close()
})

test('ClientConnection.send() times out, and drops the late answer', async () => {
  const p = peer()
  await assert.rejects(p.conn.send(sign, { timeoutMs: 30 }), KeylessTimeoutError)
  p.answer(0, { opcode: Op.Response })
  const r = p.conn.send(sign, { timeoutMs: 1000 })
  await sleep(5)
  p.answer(1, { opcode: Op.Response, payload: fromHex('aa') })
  assert.deepEqual((await r).payload, fromHex('aa'))
  assert.equal(p.conn.inFlight, 0)
  p.conn.close()
})

test('ClientConnection fails every request in flight when the peer sends a bad frame', async () => {
  const p = peer()
  const rs = [p.conn.send(sign, { timeoutMs: 1000 }), p.conn.send(sign, { timeoutMs: 1000 })]
  await sleep(5)
  p.raw(fromHex('01 00 00 03 00 00 00 00  11 00 00')) // opcode item of length 0
  for (const r of rs) await assert.rejects(r, KeylessConnectionError)
  assert.equal(p.conn.isOpen, false)
  assert.equal(p.closed.length, 1)
  await assert.rejects(p.conn.send(sign, { timeoutMs: 1000 }), KeylessConnectionError)
})

test('ClientConnection settles every request, whatever bytes the peer sends', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }),
          fc
            .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 255 }))
            .map(([id, opcode]) => encodeFrame(id, { opcode }, 'none')),
        ),
        { maxLength: 6 },
      ),
      async (chunks) => {
        const p = peer()
        const rs = [0, 1, 2].map(() =>
          p.conn.send(sign, { timeoutMs: 20 }).then(
            (op) => typeof op.opcode === 'number',
            (e: unknown) => e instanceof KeylessConnectionError || e instanceof KeylessTimeoutError,
          ),
        )
        for (const c of chunks) p.raw(c)
        assert.deepEqual(await Promise.all(rs), [true, true, true])
        p.conn.close()
      },
    ),
    { numRuns: 40 },
  )
})

test('ClientConnection.send() writes the requests of one turn together, in one write', async () => {
  const [a, b] = duplexPair()
  const chunks: Uint8Array[] = []
  b.on('data', (c: Uint8Array) => chunks.push(c))
  const conn = new ClientConnection(a, { name: 'test' })
  const sent = Array.from({ length: 10 }, () =>
    conn.send(sign, { timeoutMs: 1000 }).catch(() => undefined),
  )
  // Nothing leaves before the turn ends...
  assert.equal(chunks.length, 0)
  await sleep(10)
  // ...then all ten leave as one chunk, in ID order.
  assert.equal(chunks.length, 1)
  const d = new Deframer()
  assert.deepEqual(
    d.push(chunks[0]!).map((f) => decodeFrame(f).id),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  )
  // A request sent in a later turn is a separate write.
  void conn.send(sign, { timeoutMs: 1000 }).catch(() => undefined)
  await sleep(10)
  assert.equal(chunks.length, 2)
  conn.close()
  await Promise.all(sent)
})

test('ClientConnection.close() drops requests not yet written and rejects them', async () => {
  const [a, b] = duplexPair()
  let bytes = 0
  b.on('data', (c: Uint8Array) => (bytes += c.length))
  const conn = new ClientConnection(a, { name: 'test' })
  const p = conn.send(sign, { timeoutMs: 1000 })
  conn.close()
  await assert.rejects(p, KeylessConnectionError)
  await sleep(10)
  assert.equal(bytes, 0)
})
