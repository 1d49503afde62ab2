/**
 * One keyless client per named key-server pool (failover between the pool's
 * servers is the client's job). Clients survive a reload when their pool's
 * config and files are unchanged; otherwise a new client is made and the old
 * one closed once the new state is in place.
 *
 * The node's mTLS key is read into a Buffer, handed to the client as a copy
 * (which the client zeroises after loading it into its TLS context), and our
 * Buffer is zeroised at once.
 *
 * Each pool has a bounded SignerQueue (config `limits.signer`): a flood sheds
 * at the edge instead of queueing key-server work without bound.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { splitHostPort } from '@outpost/config'
import { KeylessClient } from '@outpost/keyless'
import type { EdgeConfig } from '../config.ts'
import { SignerQueue } from './signer-queue.ts'

export interface KeyPool {
  readonly name: string
  /** Identifies config + file contents; equal fingerprints reuse the client. */
  readonly fingerprint: string
  readonly client: KeylessClient
  /** Bounds signatures in flight and waiting for this pool. */
  readonly queue: SignerQueue
}

export interface KeyPoolOptions {
  readonly operationTimeoutMs?: number
  readonly connectTimeoutMs?: number
  readonly reconnectBaseMs?: number
  readonly reconnectMaxMs?: number
  /** The node's mTLS key from memory (node mode; `keyFile` is then not read). Returns a copy. */
  readonly clientKey?: (pool: string) => Buffer | undefined
}

export function buildKeyPools(
  config: EdgeConfig,
  previous: ReadonlyMap<string, KeyPool> | undefined,
  options: KeyPoolOptions = {},
): Map<string, KeyPool> {
  const out = new Map<string, KeyPool>()
  for (const [name, pool] of Object.entries(config.keyServers)) {
    const ca = readFileSync(pool.caFile, 'utf8')
    const cert = readFileSync(pool.certFile, 'utf8')
    const key = options.clientKey?.(name) ?? readFileSync(pool.keyFile)
    try {
      const fingerprint = createHash('sha256')
        .update(JSON.stringify(pool))
        .update(JSON.stringify(config.limits.signer))
        .update(ca)
        .update(cert)
        .update(key)
        .digest('hex')
      const prev = previous?.get(name)
      if (prev !== undefined && prev.fingerprint === fingerprint) {
        out.set(name, prev)
        continue
      }
      const servers = pool.servers.map(splitHostPort)
      const client = new KeylessClient({
        servers,
        ca,
        cert,
        key, // the client copies it; zeroised below
        operationTimeoutMs: options.operationTimeoutMs ?? 3000,
        connectTimeoutMs: options.connectTimeoutMs ?? 1000,
        reconnectBaseMs: options.reconnectBaseMs ?? 250,
        reconnectMaxMs: options.reconnectMaxMs ?? 10_000,
      })
      out.set(name, { name, fingerprint, client, queue: new SignerQueue(config.limits.signer) })
    } finally {
      key.fill(0)
    }
  }
  return out
}

/** Closes the clients of `old` that `next` does not reuse. */
export async function retireKeyPools(
  old: ReadonlyMap<string, KeyPool>,
  next: ReadonlyMap<string, KeyPool> | undefined,
): Promise<void> {
  const keep = new Set<KeylessClient>()
  for (const p of next?.values() ?? []) keep.add(p.client)
  await Promise.all(
    [...old.values()]
      .filter((p) => !keep.has(p.client))
      .map((p) => p.client.close().catch(() => undefined)),
  )
}
