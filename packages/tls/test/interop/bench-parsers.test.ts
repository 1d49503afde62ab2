/** The benchmark's readers: h2load's report and V8 CPU profiles. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseH2load } from '../../bench/load.ts'
import { summariseProfile, categorise, Category, type CpuProfile } from '../../bench/profile.ts'

// Shape of h2load 1.52's report (Debian bookworm), trimmed.
function h2loadReport(o: {
  secs: string
  unit: 's' | 'ms'
  rps: string
  total: number
  ok: number
  failed: number
}): string {
  return [
    'starting benchmark...',
    'spawning thread #0: 30 total client(s). 3000 total requests',
    'TLS Protocol: TLSv1.3',
    'Cipher: TLS_AES_256_GCM_SHA384',
    'Server Temp Key: X25519 253 bits',
    'Application protocol: http/1.1',
    'progress: 100% done',
    '',
    `finished in ${o.secs}${o.unit}, ${o.rps} req/s, 9.92KB/s`,
    `requests: ${o.total} total, ${o.total} started, ${o.total} done, ${o.ok} succeeded, ${o.failed} failed, 0 errored, 0 timeout`,
    'status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx',
  ].join('\n')
}

test('parseH2load reads rate, counts, duration and the negotiated parameters', () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 10_000 }),
      fc.nat({ max: 99 }),
      fc.constantFrom('s' as const, 'ms' as const),
      fc.nat({ max: 10_000 }),
      fc.nat({ max: 100 }),
      (whole, frac, unit, ok, failed) => {
        const secs = `${whole}.${String(frac).padStart(2, '0')}`
        const rps = `${whole * 3}.${String(frac).padStart(2, '0')}`
        const r = parseH2load(h2loadReport({ secs, unit, rps, total: ok + failed, ok, failed }))
        assert.ok(r !== undefined)
        assert.equal(r.perSec, Number(rps))
        assert.equal(r.succeeded, ok)
        assert.equal(r.failed, failed)
        assert.equal(r.seconds, Number(secs) / (unit === 'ms' ? 1000 : 1))
        assert.equal(r.negotiated, 'TLSv1.3 TLS_AES_256_GCM_SHA384 X25519 253 bits')
      },
    ),
  )
})

test('parseH2load is undefined when h2load did not finish', () => {
  const full = h2loadReport({ secs: '1.2', unit: 's', rps: '2500', total: 3, ok: 3, failed: 0 })
  assert.ok(parseH2load(full) !== undefined)
  assert.equal(parseH2load(full.replace(/finished in[^\n]*/, '')), undefined)
  assert.equal(parseH2load(full.replace(/requests:[^\n]*/, '')), undefined)
  assert.equal(parseH2load('connect to 127.0.0.1 failed: Connection refused'), undefined)
})

test('parseH2load never throws on arbitrary text', () => {
  fc.assert(
    fc.property(fc.string(), (t) => {
      const r = parseH2load(t)
      assert.ok(r === undefined || Number.isFinite(r.perSec))
    }),
  )
})

const frame = (functionName: string, url: string): CpuProfile['nodes'][number]['callFrame'] => ({
  functionName,
  url,
  lineNumber: 0,
})

test('categorise sorts frames into the handshake cost categories', () => {
  const cases: [string, string, Category][] = [
    ['(idle)', '', Category.idle],
    ['(garbage collector)', '', Category.gc],
    ['diffieHellman', 'node:internal/crypto/diffiehellman', Category.keyExchange],
    ['x25519Share', 'file:///r/packages/tls/src/crypto/key-exchange.ts', Category.keyExchange],
    ['signOneShot', 'node:internal/crypto/sig', Category.signature],
    ['update', 'node:internal/crypto/cipher', Category.aead],
    ['update', 'node:internal/crypto/hash', Category.hashing],
    ['hkdfExpandLabel', 'file:///r/packages/tls/src/crypto/hkdf.ts', Category.hashing],
    ['compress', 'file:///r/packages/tls/src/crypto/sha256.ts', Category.hashing],
    ['decodeClientHello', 'file:///r/packages/tls/src/messages/client-hello.ts', Category.ourJs],
    ['onStreamRead', 'node:internal/stream_base_commons', Category.nodeIo],
    ['writev', '', Category.nodeIo],
    ['(program)', '', Category.program],
    ['getKeyObjectSlots', 'node:internal/crypto/keys', Category.keyObjects],
    ['compileSourceTextModule', 'node:internal/modules/esm/utils', Category.startup],
    ['whatever', 'file:///elsewhere/x.js', Category.other],
  ]
  for (const [fn, url, want] of cases)
    assert.equal(categorise(frame(fn, url)), want, `${fn} ${url}`)
})

test('summariseProfile adds self time per function across call paths, idle excluded', () => {
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', '') },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: frame('signOneShot', 'node:internal/crypto/sig') },
      { id: 4, callFrame: frame('signOneShot', 'node:internal/crypto/sig') },
      { id: 5, callFrame: frame('parse', 'file:///r/packages/tls/src/messages/x.ts') },
    ],
    samples: [2, 3, 4, 5, 3, 2],
    timeDeltas: [1000, 2000, 3000, 1000, 4000, 5000],
    startTime: 0,
    endTime: 16000,
  }
  const s = summariseProfile(p, 5)
  assert.equal(s.totalMs, 16)
  assert.equal(s.busyMs, 10)
  assert.deepEqual(
    s.top.map((f) => [f.name, f.ms]),
    [
      ['signOneShot', 9],
      ['parse', 1],
    ],
  )
  assert.deepEqual(
    s.byCategory.map((c) => [c.category, c.ms, c.share]),
    [
      [Category.signature, 9, 0.9],
      [Category.ourJs, 1, 0.1],
    ],
  )
})
