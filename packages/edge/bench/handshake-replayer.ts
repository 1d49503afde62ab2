/**
 * The flood side of bench:handshake-flood, in its own process so the load
 * generator does not share the edge's event loop. Args: port, ClientHello
 * (hex), local address, max connections, max ms, concurrency. Prints the
 * ReplayResult and its own duration (seconds) as JSON.
 */
import { replay } from '../test/handshake-harness.ts'

const [port, helloHex, from, maxConnections, maxMs, concurrency] = process.argv.slice(2)
const t0 = performance.now()
const result = await replay(Number(port), Buffer.from(helloHex ?? '', 'hex'), from ?? '127.0.0.2', {
  maxConnections: Number(maxConnections),
  maxMs: Number(maxMs),
  concurrency: Number(concurrency),
})
console.log(JSON.stringify({ ...result, seconds: (performance.now() - t0) / 1000 }))
