import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { sealForTransport, TransportKeys } from './admin-transport.ts'

const ROUTE = 'POST /v1/unseal'

async function sealTo(t: TransportKeys, payload: Uint8Array, route = ROUTE) {
  const s = await sealForTransport(route, payload, (pub) => Promise.resolve(t.offer(pub)))
  assert.ok(s, 'the offer was taken')
  return s
}

test('a sealed payload opens once, for its route, to the same bytes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 5000 }), async (payload) => {
      const t = new TransportKeys()
      const s = await sealTo(t, payload)
      assert.ok(!Buffer.from(s.body).includes(Buffer.from(payload)) || payload.length < 4)
      assert.deepEqual(new Uint8Array(await t.open(s.id, ROUTE, s.body)), payload)
      await assert.rejects(t.open(s.id, ROUTE, s.body), /unknown or expired/)
    }),
    { numRuns: 40 },
  )
})

test('the wrong route, a flipped bit or a short body does not open, and burns the key', async () => {
  const t = new TransportKeys()
  const payload = randomBytes(100)
  const a = await sealTo(t, payload)
  await assert.rejects(t.open(a.id, 'POST /v1/keys', a.body), /does not authenticate/)
  await assert.rejects(t.open(a.id, ROUTE, a.body), /unknown or expired/)
  const b = await sealTo(t, payload)
  const flipped = Buffer.from(b.body)
  flipped[20] = (flipped[20] ?? 0) ^ 1
  await assert.rejects(t.open(b.id, ROUTE, flipped), /does not authenticate/)
  const c = await sealTo(t, payload)
  await assert.rejects(t.open(c.id, ROUTE, c.body.subarray(0, 27)), /too short/)
  await assert.rejects(t.open('00'.repeat(16), ROUTE, a.body), /unknown or expired/)
})

test('transport keys expire after 60 s, at most 16 wait, and clear() drops them', async () => {
  let now = 1_000_000
  const t = new TransportKeys(() => now)
  const s = await sealTo(t, Buffer.from('share'))
  now += 60_001
  await assert.rejects(t.open(s.id, ROUTE, s.body), /unknown or expired/)
  const pub = randomBytes(32)
  for (let i = 0; i < 16; i++) t.offer(pub)
  assert.throws(() => t.offer(pub), /16 transport keys are already pending/)
  t.clear()
  assert.ok(t.offer(pub).id.length === 32)
  assert.throws(() => t.offer(Buffer.alloc(31)), /32-byte X25519 public key, got 31/)
  t.clear()
  // A small-order point (all zeros: the shared secret would be zero, RFC 7748 §6.1).
  assert.throws(() => t.offer(Buffer.alloc(32)), /not a usable X25519 public key/)
})
