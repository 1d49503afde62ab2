import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { ErrorCode, Op, type Operation, type PeerInfo } from './_keyless.ts'
import type { AuditEntry, AuditLog } from './audit.ts'
import { createHandler, ipText } from './handler.ts'
import type { Keystore, KeystoreKey } from './keystore.ts'
import { softwareKeyFrom } from './keys.ts'
import { KeyServerMetrics } from './metrics.ts'
import { softwareBackend, type KeyBackend } from './ops.ts'
import { TokenBuckets } from './rate-limit.ts'
import { RevocationList } from './revocations.ts'

const soft = softwareKeyFrom(generateKeyPairSync('ed25519').privateKey)

function fakeKeystore(backend: KeyBackend, sealed = false): Keystore {
  const key: KeystoreKey = {
    skiHex: soft.skiHex,
    type: soft.type,
    policy: { allowRegions: ['eu'] },
    backend,
  }
  return {
    kind: 'directory',
    isSealed: () => sealed,
    find: (ski) => (ski === soft.skiHex ? key : undefined),
    list: () => [],
    status: () => ({ kind: 'directory', sealed, progress: 0, threshold: 1, shares: 1, keys: 1 }),
    close: () => Promise.resolve(),
  }
}

function setup(
  o: {
    backend?: KeyBackend
    rate?: number
    burst?: number
    maxInFlightTotal?: number
    sealed?: boolean
  } = {},
) {
  const revocations = new RevocationList(undefined, () => undefined)
  const refusals: string[] = []
  const { handler, inFlight } = createHandler({
    keystore: () => fakeKeystore(o.backend ?? softwareBackend(soft), o.sealed),
    revocations,
    buckets: new TokenBuckets(o.rate ?? 1000, o.burst ?? 1000),
    audit: undefined,
    metrics: new KeyServerMetrics(),
    requireNodeIdentity: true,
    maxInFlightTotal: o.maxInFlightTotal ?? 100,
    onRefusal: (_p, _op, result) => refusals.push(result),
  })
  return { handler, inFlight, revocations, refusals }
}

const node: PeerInfo = { remoteAddress: '127.0.0.1', nodeId: 'n1', region: 'eu', country: 'DE' }
const sign: Operation = {
  opcode: Op.Ed25519Sign,
  ski: soft.ski,
  payload: new Uint8Array([1, 2, 3]),
}
const signal = new AbortController().signal

function code(answer: Operation): number {
  assert.equal(answer.opcode, Op.Error)
  return answer.payload![0]!
}

test('handler answers a permitted operation with a Response', async () => {
  const { handler } = setup()
  const a = await handler(sign, node, signal)
  assert.equal(a.opcode, Op.Response)
  assert.equal(a.payload!.length, 64)
})

test('handler refuses peers without a node identity with Unauthorized', async () => {
  const { handler, refusals } = setup()
  assert.equal(
    code(await handler(sign, { remoteAddress: '127.0.0.1' }, signal)),
    ErrorCode.Unauthorized,
  )
  assert.deepEqual(refusals, ['Unauthorized'])
})

test('handler refuses revoked nodes with Revoked as soon as the list changes', async () => {
  const { handler, revocations } = setup()
  assert.equal((await handler(sign, node, signal)).opcode, Op.Response)
  revocations.replace(['n1'])
  assert.equal(code(await handler(sign, node, signal)), ErrorCode.Revoked)
  revocations.replace([])
  assert.equal((await handler(sign, node, signal)).opcode, Op.Response)
})

test('handler enforces the per-node token bucket with RateLimited', async () => {
  const { handler } = setup({ rate: 1, burst: 3 })
  const codes = []
  for (let i = 0; i < 5; i++) {
    const a = await handler(sign, node, signal)
    codes.push(a.opcode === Op.Response ? 'ok' : code(a))
  }
  assert.deepEqual(codes, ['ok', 'ok', 'ok', ErrorCode.RateLimited, ErrorCode.RateLimited])
  // Another node has its own bucket.
  assert.equal((await handler(sign, { ...node, nodeId: 'n2' }, signal)).opcode, Op.Response)
})

test('handler answers Busy at once beyond the total in-flight bound, never queueing', async () => {
  const gates: (() => void)[] = []
  const slow: KeyBackend = {
    ...softwareBackend(soft),
    ed25519: () =>
      new Promise<Uint8Array>((resolve) => {
        gates.push(() => {
          resolve(new Uint8Array(64))
        })
      }),
  }
  const { handler, inFlight } = setup({ backend: slow, maxInFlightTotal: 2 })
  const a = handler(sign, node, signal)
  const b = handler(sign, { ...node, nodeId: 'n2' }, signal)
  await new Promise((r) => setImmediate(r))
  assert.equal(inFlight(), 2)
  const t0 = performance.now()
  assert.equal(code(await handler(sign, node, signal)), ErrorCode.Busy)
  // Answered without waiting for the two gated operations (which would never finish).
  assert.ok(performance.now() - t0 < 1000)
  for (const g of gates) g()
  assert.equal((await a).opcode, Op.Response)
  assert.equal((await b).opcode, Op.Response)
  assert.equal(inFlight(), 0)
})

test('handler maps each refusal to its code: Sealed, Format, KeyNotFound, PolicyDenied, BadOpcode', async () => {
  assert.equal(code(await setup({ sealed: true }).handler(sign, node, signal)), ErrorCode.Sealed)
  const { handler } = setup()
  assert.equal(
    code(await handler({ ...sign, ski: randomBytes(19) }, node, signal)),
    ErrorCode.Format,
  )
  const { ski: _ski, ...noSki } = sign
  assert.equal(code(await handler(noSki, node, signal)), ErrorCode.Format)
  assert.equal(
    code(await handler({ ...sign, ski: randomBytes(20) }, node, signal)),
    ErrorCode.KeyNotFound,
  )
  assert.equal(code(await handler(sign, { ...node, region: 'us' }, signal)), ErrorCode.PolicyDenied)
  assert.equal(code(await handler({ ...sign, opcode: 0x21 }, node, signal)), ErrorCode.BadOpcode)
  assert.equal(
    code(await handler({ ...sign, opcode: Op.RsaSignSha256 }, node, signal)),
    ErrorCode.CryptoFailed,
  )
})

test('ipText() formats IPv4 and IPv6 items', () => {
  assert.equal(ipText(new Uint8Array([192, 0, 2, 1])), '192.0.2.1')
  assert.equal(
    ipText(new Uint8Array([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 1])),
    '2001:db8:0:0:0:0:0:1',
  )
  assert.equal(ipText(undefined), null)
})

test('handler answers a software-key operation at once, without a promise', () => {
  const { handler } = setup()
  const a = handler(sign, node, signal)
  assert.ok(!(a instanceof Promise), 'a software key should be answered synchronously')
  assert.equal(a.opcode, Op.Response)
})

test('handler looks each SKI up afresh when a connection switches keys (no stale SKI cache)', async () => {
  const { handler } = setup()
  const peer: PeerInfo = { ...node }
  const other = randomBytes(20)
  assert.equal((await handler(sign, peer, signal)).opcode, Op.Response)
  assert.equal(code(await handler({ ...sign, ski: other }, peer, signal)), ErrorCode.KeyNotFound)
  assert.equal((await handler(sign, peer, signal)).opcode, Op.Response)
  // The same bytes in a reused array: the cache must compare contents, not identity.
  const reused = new Uint8Array(soft.ski)
  assert.equal((await handler({ ...sign, ski: reused }, peer, signal)).opcode, Op.Response)
  reused.set(other)
  assert.equal(code(await handler({ ...sign, ski: reused }, peer, signal)), ErrorCode.KeyNotFound)
})

test('handler audits the client IP of every request, also when a connection switches visitors', async () => {
  const entries: AuditEntry[] = []
  const { handler } = createHandler({
    keystore: () => fakeKeystore(softwareBackend(soft)),
    revocations: new RevocationList(undefined, () => undefined),
    buckets: new TokenBuckets(1000, 1000),
    audit: { append: (e: AuditEntry) => entries.push(e) } as unknown as AuditLog,
    metrics: new KeyServerMetrics(),
    requireNodeIdentity: true,
    maxInFlightTotal: 100,
  })
  const peer: PeerInfo = { ...node }
  const v6 = Uint8Array.of(192, 0, 2, 1, ...new Array<number>(11).fill(0), 7)
  const reused = Uint8Array.of(192, 0, 2, 1)
  const ips: (Uint8Array | undefined)[] = [
    Uint8Array.of(192, 0, 2, 1),
    Uint8Array.of(192, 0, 2, 1),
    v6, // starts with the same four bytes as the IPv4 address before
    Uint8Array.of(198, 51, 100, 7),
    reused,
    undefined,
    reused,
  ]
  const expected: (string | null)[] = []
  for (const [i, ip] of ips.entries()) {
    if (i === 6) reused.set([203, 0, 113, 9]) // same array, new contents
    expected.push(ipText(ip?.slice()))
    const a = await handler(ip === undefined ? sign : { ...sign, clientIp: ip }, peer, signal)
    assert.equal(a.opcode, Op.Response)
  }
  assert.deepEqual(
    entries.map((e) => e.clientIp),
    expected,
  )
  assert.equal(expected[6], '203.0.113.9')
  assert.equal(expected[2], 'c000:201:0:0:0:0:0:7')
})
