import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Counter, Histogram, Registry } from 'prom-client'
import { KeyServerMetrics, LATENCY_BUCKETS } from './metrics.ts'

// The lines of one metric family (HELP, TYPE and samples) in an exposition text.
function family(text: string, name: string): string[] {
  const sample = new RegExp(`^${name}(_bucket|_sum|_count)?[{ ]`)
  return text
    .split('\n')
    .filter(
      (l) => sample.test(l) || l.startsWith(`# HELP ${name} `) || l.startsWith(`# TYPE ${name} `),
    )
}

// What prom-client's own Counter and Histogram print for the same samples.
async function reference(samples: readonly [string, string, number][]): Promise<string> {
  const registry = new Registry()
  const operations = new Counter({
    name: 'outpost_keyserver_operations_total',
    help: 'Keyless operations by opcode and result (ok or the error code name)',
    labelNames: ['opcode', 'result'],
    registers: [registry],
  })
  const latency = new Histogram({
    name: 'outpost_keyserver_operation_duration_seconds',
    help: 'Time from request to answer inside the key server, by opcode',
    labelNames: ['opcode'],
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  })
  for (const [opcode, result, seconds] of samples) {
    operations.labels(opcode, result).inc()
    latency.labels(opcode).observe(seconds)
  }
  return registry.metrics()
}

const samples: [string, string, number][] = [
  ['SignTls13', 'ok', 0.00003],
  ['SignTls13', 'ok', 0.00005], // exactly on a bound: counted in it
  ['SignTls13', 'ok', 0.000051],
  ['SignTls13', 'PolicyDenied', 0.0004],
  ['EcdsaSignSha256', 'ok', 0.0012],
  ['SignTls13', 'ok', 2.5], // above every bound: only +Inf
  ['(connection)', 'Format', 0],
  ['weird "op"\\', 'ok', 0.02],
  ['EcdsaSignSha256', 'CryptoFailed', 0.1],
]

test('KeyServerMetrics prints the counter and histogram prom-client prints for the same samples', async () => {
  const m = new KeyServerMetrics()
  // Both entry points, and a flush in the middle: counts carry over.
  samples.forEach(([opcode, result, seconds], i) => {
    if (i % 2 === 0) m.record(opcode, result, seconds)
    else m.recordSlot(m.slot(opcode, result), seconds)
    if (i === 4) m.flush()
  })
  const ours = await m.metrics()
  const ref = await reference(samples)
  for (const name of [
    'outpost_keyserver_operations_total',
    'outpost_keyserver_operation_duration_seconds',
  ]) {
    const got = family(ours, name)
    assert.ok(got.length > 2, `${name} is exposed`)
    assert.deepEqual(got, family(ref, name), name)
  }
  // A second scrape adds nothing twice.
  assert.deepEqual(
    family(await m.metrics(), 'outpost_keyserver_operations_total'),
    family(ref, 'outpost_keyserver_operations_total'),
  )
})

test('KeyServerMetrics counts many samples exactly', async () => {
  const m = new KeyServerMetrics()
  const slot = m.slot('SignTls13', 'ok')
  let fast = 0
  for (let i = 0; i < 100_000; i++) {
    const seconds = (i % 1000) * 1e-6
    if (seconds <= 0.00005) fast++
    m.recordSlot(slot, seconds)
  }
  const text = await m.metrics()
  assert.match(
    text,
    /outpost_keyserver_operations_total\{opcode="SignTls13",result="ok"\} 100000\n/,
  )
  assert.ok(
    text.includes(
      `outpost_keyserver_operation_duration_seconds_bucket{le="0.00005",opcode="SignTls13"} ${fast}\n`,
    ),
  )
  assert.match(
    text,
    /outpost_keyserver_operation_duration_seconds_count\{opcode="SignTls13"\} 100000\n/,
  )
})
