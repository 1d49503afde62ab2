/**
 * Time-boxed fuzz of the whole server state machine through the sans-I/O API
 * (undici `test/fuzzing` style): after a valid ClientHello, or after a complete
 * handshake, random records, fragments and sealed inner records must only ever
 * produce alerts or a clean close: `receive()` never throws, a failed
 * connection is Closed and stays silent, and nothing hangs. Budget: a few
 * seconds here; FUZZ_MS raises it.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { concat } from '@outpost/wire'
import { ContentType } from '../src/constants.ts'
import { alertFor } from '../src/errors.ts'
import { ServerConnection } from '../src/server/machine.ts'
import type { TlsServerConfig } from '../src/server/config.ts'
import { plaintextRecord } from '../src/record/record-layer.ts'
import { TestClient } from './helpers/client.ts'
import { testCertificates } from './helpers/certs.ts'

const BUDGET_MS = Number(process.env['FUZZ_MS'] ?? 1500)
let config: TlsServerConfig

before(async () => {
  config = { certificates: (await testCertificates()).source, ticketsPerHandshake: 1 }
})

type Step =
  | { kind: 'raw'; bytes: Uint8Array }
  | { kind: 'plain'; type: number; bytes: Uint8Array }
  | { kind: 'sealed'; type: number; bytes: Uint8Array; pad: number }
  | { kind: 'split'; at: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('raw' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({
    kind: fc.constant('plain' as const),
    type: fc.constantFrom(20, 21, 22, 23, 0, 24, 255),
    bytes: fc.uint8Array({ maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant('sealed' as const),
    type: fc.constantFrom(20, 21, 22, 23, 0, 99),
    bytes: fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.constantFrom(
        new Uint8Array([24, 0, 0, 1, 1]),
        new Uint8Array([24, 0, 0, 1, 0]),
        new Uint8Array([20, 0, 0, 32]),
        new Uint8Array([1, 0, 0, 0]),
        new Uint8Array([1, 0]),
        new Uint8Array([0]),
      ),
    ),
    pad: fc.integer({ min: 0, max: 40 }),
  }),
  fc.record({ kind: fc.constant('split' as const), at: fc.integer({ min: 1, max: 10 }) }),
)

/** Feeds steps; checks the invariants after each. */
function drive(conn: ServerConnection, client: TestClient, steps: Step[]): void {
  let pending: Uint8Array | undefined
  for (const s of steps) {
    let bytes: Uint8Array
    if (s.kind === 'raw') bytes = s.bytes
    else if (s.kind === 'plain') bytes = plaintextRecord(s.type as ContentType, s.bytes)
    else if (s.kind === 'sealed')
      bytes = client.writer ? client.seal(s.type as ContentType, s.bytes, s.pad) : s.bytes
    else {
      // Deliver the previous bytes in two fragments.
      if (pending && pending.length > s.at) {
        conn.receive(pending.subarray(0, s.at))
        conn.receive(pending.subarray(s.at))
      }
      pending = undefined
      continue
    }
    conn.takeOutput()
    const failedBefore = conn.error !== undefined
    if (pending) conn.receive(pending)
    pending = bytes
    const out = concat(...conn.takeOutput())
    if (failedBefore) assert.equal(out.length, 0, 'a failed connection must stay silent')
  }
  if (pending) conn.receive(pending)
  conn.takeOutput()
  if (conn.error !== undefined) assert.equal(conn.stateKind, 'Closed')
}

async function established(): Promise<{ conn: ServerConnection; client: TestClient }> {
  const conn = new ServerConnection(config)
  const client = new TestClient({ serverName: 'test.example' })
  conn.receive(client.clientHello().record)
  client.receive(conn.takeOutput())
  const req = conn.signRequest
  if (req) conn.provideSignature(await req.signer.sign(req.scheme, req.content))
  client.receive(conn.takeOutput())
  conn.receive(client.finished())
  client.receive(conn.takeOutput())
  return { conn, client }
}

test('ServerConnection survives random records after a complete handshake (time-boxed)', async () => {
  // Handshakes are async (the signer); build a pool first, then fuzz synchronously.
  const pool = await Promise.all(Array.from({ length: 24 }, () => established()))
  let i = 0
  const stats = fc.check(
    fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
      const pair = pool[i++ % pool.length]!
      // Each run needs a fresh connection: reuse only while it is still alive.
      drive(pair.conn, pair.client, steps)
    }),
    { interruptAfterTimeLimit: BUDGET_MS, numRuns: 1_000_000 },
  )
  assert.equal(stats.failed, false, fc.defaultReportMessage(stats) ?? '')
  assert.ok(stats.numRuns > 10, `only ${stats.numRuns} runs`)
})

test('ServerConnection survives mutated ClientHellos and random follow-ups (time-boxed)', () => {
  const client = new TestClient({
    serverName: 'test.example',
    sessionId: new Uint8Array(32).fill(1),
  })
  const { record } = client.clientHello()
  const stats = fc.check(
    fc.property(
      fc.array(
        fc.record({
          at: fc.nat({ max: record.length - 1 }),
          xor: fc.integer({ min: 1, max: 255 }),
        }),
        { maxLength: 3 },
      ),
      fc.array(step, { maxLength: 6 }),
      (flips, steps) => {
        const bytes = record.slice()
        for (const f of flips) bytes[f.at] = (bytes[f.at] as number) ^ f.xor
        const conn = new ServerConnection(config)
        conn.receive(bytes)
        const out = concat(...conn.takeOutput())
        // Either the handshake moved on (a signature is wanted) or an alert was sent.
        assert.ok(
          conn.signRequest !== undefined ||
            conn.error !== undefined ||
            conn.stateKind === 'ExpectClientHello' ||
            conn.stateKind === 'ExpectClientHello2',
          conn.stateKind,
        )
        // A failure that calls for an alert sent one (a plaintext alert record before ServerHello).
        if (conn.error !== undefined && alertFor(conn.error) !== undefined)
          assert.equal(out[out.length - 7], 21)
        drive(conn, new TestClient(), steps)
      },
    ),
    { interruptAfterTimeLimit: BUDGET_MS, numRuns: 1_000_000 },
  )
  assert.equal(stats.failed, false, fc.defaultReportMessage(stats) ?? '')
  assert.ok(stats.numRuns > 10, `only ${stats.numRuns} runs`)
})
