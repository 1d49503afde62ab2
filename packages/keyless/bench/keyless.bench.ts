/**
 * Keyless micro-benchmarks on loopback (mutual TLS 1.3, one connection):
 * codec encode+decode rate, sequential ping round trips, and pipelined
 * context-bound ECDSA P-256 signing throughput (the signing is done by the
 * bench's in-process handler with node:crypto, so this measures the protocol
 * path plus one signature per op, on one core shared by client and server).
 *
 *   node packages/keyless/bench/keyless.bench.ts [seconds]
 */
import { createHash } from 'node:crypto'
import { SignatureScheme } from '@outpost/tls'
import { concat } from '@outpost/wire'
import { KeylessClient, Op, RemoteSigner, decodeFrame, encodeFrame } from '../src/index.ts'
import {
  clientCredentials,
  ecdsaKey,
  makePki,
  signingHandler,
  startServer,
} from '../test/harness.ts'

const seconds = Number(process.argv[2] ?? 3)

function codec(): void {
  const op = {
    opcode: Op.SignTls13,
    payload: new Uint8Array(130),
    ski: new Uint8Array(20),
    serverName: 'example.com',
    signatureScheme: 0x0403,
  }
  const end = performance.now() + seconds * 1000
  let n = 0
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) decodeFrame(encodeFrame(i, op))
    n += 1000
  }
  console.log(`codec: ${Math.round(n / seconds)} encode+decode/s (1024-byte SignTls13 frames)`)
}

async function loopback(): Promise<void> {
  const pki = await makePki()
  const key = ecdsaKey()
  const server = await startServer(pki, { handler: signingHandler([key]) })
  const client = new KeylessClient({
    servers: [{ host: '127.0.0.1', port: server.port }],
    ...clientCredentials(pki),
  })
  try {
    await client.ping()
    const rtts: number[] = []
    const end = performance.now() + seconds * 1000
    while (performance.now() < end) rtts.push(await client.ping())
    rtts.sort((a, b) => a - b)
    const q = (p: number): string => (rtts[Math.floor(p * (rtts.length - 1))] ?? 0).toFixed(3)
    console.log(`ping: ${rtts.length} sequential, median ${q(0.5)} ms, p99 ${q(0.99)} ms`)

    const signer = new RemoteSigner({
      client,
      ski: key.ski,
      schemes: [SignatureScheme.ecdsa_secp256r1_sha256],
    })
    const content = concat(
      new Uint8Array(64).fill(0x20),
      new TextEncoder().encode('TLS 1.3, server CertificateVerify'),
      Uint8Array.of(0),
      createHash('sha256').update('bench').digest(),
    )
    for (const concurrency of [1, 16, 64]) {
      let done = 0
      const stop = performance.now() + seconds * 1000
      const lat: number[] = []
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < stop) {
            const t0 = performance.now()
            await signer.sign(SignatureScheme.ecdsa_secp256r1_sha256, content)
            lat.push(performance.now() - t0)
            done++
          }
        }),
      )
      lat.sort((a, b) => a - b)
      console.log(
        `SignTls13 ecdsa_secp256r1_sha256, ${concurrency} in flight: ${Math.round(done / seconds)} ops/s, ` +
          `median ${(lat[Math.floor(lat.length / 2)] ?? 0).toFixed(2)} ms, p99 ${(lat[Math.floor(lat.length * 0.99)] ?? 0).toFixed(2)} ms`,
      )
    }
  } finally {
    await client.close()
    await server.close()
  }
}

codec()
await loopback()
