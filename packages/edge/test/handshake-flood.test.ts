/**
 * AP15 (attack-protection.md §7, benchmark B3): a ClientHello replay flood
 * from 127.0.0.2 against a keyless edge. Key-server signatures per second stay
 * within the per-IP handshake budget ±5 %; a flood of ClientHellos for an
 * unknown name causes no signature at all; a good client on 127.0.0.3 doing
 * resumed handshakes succeeds every time; the shed reasons are exported.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  captureClientHello,
  replay,
  startKeylessEdge,
  tlsGet,
  type HandshakeOutcome,
  type KeylessWorld,
} from './handshake-harness.ts'
import { closed, connectFrom, sleep } from './limits-harness.ts'
import type { Socket } from 'node:net'

const RATE = 40 // full handshakes per second per IP
const BURST = 20 // tolerance (BURST-1)/RATE = 475 ms of event-loop stall before budget is lost
let w: KeylessWorld

before(async () => {
  w = await startKeylessEdge({
    handshakes: {
      perIp: { rate: RATE, burst: BURST },
      perPrefix: { rate: 10_000, burst: 10_000 },
      perZone: { rate: 10_000, burst: 10_000 },
      perNode: { rate: 10_000, burst: 10_000 },
    },
  })
})
after(async () => {
  await w.close()
})

/** Resumed handshakes from 127.0.0.3 every `everyMs` until `stop()` is called. */
function goodClient(session: Buffer, everyMs: number): { stop: () => Promise<HandshakeOutcome[]> } {
  const results: HandshakeOutcome[] = []
  let running = true
  let current = session
  const loop = (async () => {
    while (running) {
      const r = await tlsGet(w.port, '127.0.0.3', { ca: w.siteCaPem, session: current })
      results.push(r)
      if (r.session) current = r.session
      await new Promise((res) => setTimeout(res, everyMs))
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return results
    },
  }
}

test('AP15: unknown-SNI ClientHello flood causes 0 signatures', async () => {
  const hello = await captureClientHello('unknown.test')
  const before = await w.ksSignatures()
  const r = await replay(w.port, hello, '127.0.0.2', {
    maxConnections: 2000,
    maxMs: 1500,
    concurrency: 16,
  })
  assert.ok(r.attempts > 100, `only ${r.attempts} attempts`)
  assert.ok(r.answered > r.attempts * 0.9, 'the edge answered (with an alert)')
  assert.equal((await w.ksSignatures()) - before, 0)
})

test('AP15: replay flood: signatures/s within the per-IP budget ±5 %, resumed good client 100 %', async () => {
  // The good client's one full handshake, before the flood (its ticket).
  const first = await tlsGet(w.port, '127.0.0.3', { ca: w.siteCaPem })
  assert.ok(first.ok && first.session, `good client: ${first.error ?? 'no ticket'}`)
  const hello = await captureClientHello('site.test')
  await new Promise((r) => setTimeout(r, 200))
  const good = goodClient(first.session, 50)
  const before = await w.ksSignatures()
  const t0 = performance.now()
  const flood = await replay(w.port, hello, '127.0.0.2', {
    maxConnections: 20_000,
    maxMs: 4000,
    concurrency: 24,
  })
  const seconds = (performance.now() - t0) / 1000
  await new Promise((r) => setTimeout(r, 300)) // signatures admitted at the end finish
  const signatures = (await w.ksSignatures()) - before
  const results = await good.stop()
  // GCRA: burst + rate × time; the rate part is what the budget promises.
  const perSecond = (signatures - BURST) / seconds
  const offered = flood.attempts / seconds
  assert.ok(offered > RATE * 3, `flood too weak to test the budget: ${offered.toFixed(0)}/s`)
  assert.ok(
    Math.abs(perSecond - RATE) <= RATE * 0.05,
    `${perSecond.toFixed(1)} signatures/s for a budget of ${RATE}/s (${signatures} in ${seconds.toFixed(2)} s, ${flood.attempts} ClientHellos)`,
  )
  assert.ok(results.length >= 10, `good client ran ${results.length} times`)
  const failed = results.filter((r) => !r.ok || !r.resumed)
  assert.deepEqual(failed, [], 'every resumed handshake of the good client succeeds')
  const shed = await w.shed()
  assert.ok((shed['ip_budget'] ?? 0) > flood.attempts * 0.5, `shed: ${JSON.stringify(shed)}`)
})

test('per-IP connection cap counts connections still in their handshake', async () => {
  const capped = await startKeylessEdge({ perIp: { maxConnections: 3 } })
  const held: Socket[] = []
  try {
    // Three TCP connections that never send a ClientHello hold the address's slots.
    for (let i = 0; i < 3; i++) held.push(await connectFrom(capped.port, '127.0.0.2'))
    await sleep(100)
    const extra = await connectFrom(capped.port, '127.0.0.2')
    const r = await closed(extra)
    assert.equal(r.data.length, 0, 'closed before any TLS byte')
    assert.ok(r.ms < 1000, `closed at once (${r.ms.toFixed(0)} ms)`)
    const text = await capped.edge.metrics.text()
    assert.match(text, /outpost_edge_http_limit_total\{reason="ip_connections"\} 1\b/)
    // Another address still completes a handshake; a freed slot is usable again.
    assert.equal((await tlsGet(capped.port, '127.0.0.3', { ca: capped.siteCaPem })).ok, true)
    held.pop()?.destroy()
    await sleep(100)
    assert.equal((await tlsGet(capped.port, '127.0.0.2', { ca: capped.siteCaPem })).ok, true)
  } finally {
    for (const s of held) s.destroy()
    await capped.close()
  }
})
