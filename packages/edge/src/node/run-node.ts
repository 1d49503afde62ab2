/**
 * An edge as an enrolled node of a control plane (`outpost edge run --dir DIR`):
 *
 *   sealed ──Tang unlock──► unlocked ──first lease──► serving ──► bricked
 *
 * - The custody agent runs in this process. Boot: a node bricked by a kill, revocation
 *   or tamper stays bricked; one bricked by a lost lease or a power loss asks again
 *   (the control plane decides at its Tang endpoint: an active node unlocks, and in
 *   regions with `rebootNeedsReadmission` only after an operator's single-use approval).
 *   While Tang refuses, the node stays `sealed` and retries every `unlockRetryMs`.
 * - The identity key (PKCS#8 PEM, from the JWE) authenticates the node API (mTLS) and the
 *   keyless client; it is registered with the agent, as are the STEKs and clearance-cookie
 *   keys from the lease and the cache key. A brick zeroises them all, then closes the node
 *   API, the listeners and the data path and deletes the cache files.
 * - Sites come from the signed bundle (signature and monotonic version checked before
 *   applying); `GET /node/v1/watch` long-polls for bundle changes and kills, so a change
 *   is applied, and a kill bricks the node, within one store poll (≈ 100 ms) plus RTT.
 */
import { createHash, createPublicKey, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { createSecureContext } from 'node:tls'
import { releaseDroppedSecrets } from '@outpost/tls'
import { CustodyAgent, type CustodyStatus } from '@outpost/custody'
import { verifyBundle, type BundleZone } from '@outpost/control/node'
import { skiOf } from '@outpost/keyless'
import { toHex } from '@outpost/wire'
import { AesGcmEnvelope } from '../cache/envelope.ts'
import type { EdgeConfigInput } from '../config.ts'
import { startEdge, type RunningEdge } from '../start.ts'
import { LeaseStekProvider } from '../stek.ts'
import { Protection } from '@outpost/protect'
import { ProtectionSync } from '../protection-sync.ts'
import { LeaseClearanceKeys } from './clearance-keys.ts'
import { NodeApi } from './node-api.ts'
import { NODE_FILES, readNodeFile, writeNodeFile, type NodeFile } from './node-file.ts'

export interface NodeRunOptions {
  readonly dir: string
  /** Visitor listener (default 127.0.0.1:8443). */
  readonly listen?: string
  readonly admin?: { readonly listen: string; readonly tokenSha256: string }
  readonly metrics?: { readonly listen: string }
  readonly cacheMaxBytes?: number
  /** Overrides the region's lease grace (tests). */
  readonly graceMs?: number
  /** Lease renewal interval (default min(5 s, grace/3)). */
  readonly intervalMs?: number
  /** How often a refused unlock is retried (default 2 s). */
  readonly unlockRetryMs?: number
  /** Long-poll length of the watch (default 20 s). */
  readonly watchWaitMs?: number
  readonly log?: (line: Record<string, unknown>) => void
  readonly onState?: (s: CustodyStatus) => void
}

export interface RunningNode {
  readonly agent: CustodyAgent
  readonly nodeId: string
  /** The edge once serving (undefined before, and after a brick). */
  readonly edge: RunningEdge | undefined
  /** Resolves with the edge once it serves; rejects when the node bricks or closes first. */
  readonly ready: Promise<RunningEdge>
  /** Resolves when the node is bricked (never, on a clean close). */
  readonly bricked: Promise<CustodyStatus>
  /** Clean shutdown: zeroise, close, state `sealed`. */
  close(): Promise<void>
}

/** Brick reasons that no restart undoes (the operator must enrol the node again). */
const FINAL_REASONS = new Set(['operator_kill', 'revoked', 'tamper'])
const PLACEHOLDER_HOST = 'no-zones.outpost.invalid'
const POOL = 'control'

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms)) // ref: a sealed node waits for approval
}

/** The edge config for the bundle's zones (their chains written to `bundle/`). */
export function sitesConfig(
  zones: readonly BundleZone[],
  dir: string,
  log: (l: Record<string, unknown>) => void,
): EdgeConfigInput['sites'] {
  const bundleDir = join(dir, NODE_FILES.bundle)
  mkdirSync(bundleDir, { recursive: true, mode: 0o700 })
  const sites: EdgeConfigInput['sites'] = []
  for (const z of zones) {
    if (!z.certificateChain.includes('-----BEGIN CERTIFICATE-----')) {
      log({ level: 'warn', msg: 'zone has no certificate chain; not served', zone: z.id })
      continue
    }
    const file = join(
      bundleDir,
      `${z.id}-${createHash('sha256').update(z.certificateChain).digest('hex').slice(0, 16)}.pem`,
    )
    if (!existsSync(file)) writeFileSync(file, z.certificateChain, { mode: 0o644 })
    const leaf = new X509Certificate(z.certificateChain)
    sites.push({
      hosts: [...z.hostnames],
      origin: z.origin,
      certificates: [file],
      key: { ski: toHex(skiOf(leaf.publicKey)), pool: POOL },
      cache: true,
      // Every zone runs the engine, so control-plane bans and "under attack" apply (docs/protect-control.md).
      protection: z.protection ?? {},
    })
  }
  if (sites.length === 0) {
    // The edge config needs a site: a name nobody resolves, with the node's own
    // certificate (no key server holds its key, so it can never complete a handshake).
    const cert = join(dir, NODE_FILES.cert)
    const pub = createPublicKey(new X509Certificate(readFileSync(cert)).publicKey)
    sites.push({
      hosts: [PLACEHOLDER_HOST],
      origin: 'http://127.0.0.1:9',
      certificates: [cert],
      key: { ski: toHex(skiOf(pub)), pool: POOL },
      cache: false,
    })
  }
  return sites
}

/**
 * Starts the node in the background; `ready` tells when it serves.
 *
 * @example
 * ```ts
 * const node = startNode({ dir: '/var/lib/outpost/node', listen: '0.0.0.0:443' })
 * const edge = await node.ready
 * ```
 */
export function startNode(o: NodeRunOptions): RunningNode {
  const dir = resolve(o.dir)
  const log =
    o.log ?? ((l) => process.stderr.write(JSON.stringify({ service: 'edge-node', ...l }) + '\n'))
  let nf: NodeFile = readNodeFile(dir)
  if (nf.keyServers === undefined) {
    throw new Error(
      `Cannot run node ${nf.nodeId}: ${join(dir, NODE_FILES.node)} names no key servers (enrol with --key-server)`,
    )
  }
  const keyServers = nf.keyServers
  const bundleKey = createPublicKey(nf.bundlePublicKeyPem)
  let api: NodeApi | undefined
  let edge: RunningEdge | undefined
  let applied = nf.bundleVersion
  let zonesApplied: string | undefined
  let closed = false
  // Read through functions: callbacks change these while we await.
  const isClosed = (): boolean => closed
  const stateNow = (): CustodyStatus['state'] => agent.status.state
  const watchAbort = new AbortController()
  // Attack protection: one engine for the node's life; decisions and zone stats via the control plane.
  const protection = new Protection()
  let zonesNow: readonly BundleZone[] = []
  let sync: ProtectionSync | undefined
  let resolveBricked: (s: CustodyStatus) => void = () => undefined
  const bricked = new Promise<CustodyStatus>((r) => {
    resolveBricked = r
  })
  const servingWaiters: ((ok: boolean) => void)[] = []

  const steks = new LeaseStekProvider({
    onKey: (name, key) => agent.secrets.register(name, key),
    onDrop: (name) => {
      agent.secrets.release(name)
    },
  })

  // Clearance cookies under the control plane's keys: valid on every node, across restarts.
  const clearance = new LeaseClearanceKeys(protection.keys, {
    onKey: (name, key) => agent.secrets.register(name, key),
    onDrop: (name) => {
      agent.secrets.release(name)
    },
  })

  const agent: CustodyAgent = new CustodyAgent({
    identityJwe: () => readFile(join(dir, NODE_FILES.identity), 'ascii'),
    stateFile: join(dir, NODE_FILES.state),
    graceMs: o.graceMs ?? nf.graceSeconds * 1000,
    ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}),
    renew: async (signal) => {
      if (api === undefined) throw new Error('node API not ready')
      const r = await api.lease(signal)
      if ('kill' in r) return { kill: r.kill, detail: r.detail }
      steks.update(r.steks)
      if (r.clearanceKeys !== undefined) clearance.update(r.clearanceKeys)
      if (r.graceSeconds !== nf.graceSeconds) {
        nf = { ...nf, graceSeconds: r.graceSeconds }
        writeNodeFile(dir, nf) // the next boot's grace
      }
      if (r.bundleVersion > applied && edge !== undefined) void applyBundle()
      return { ttlMs: Date.parse(r.leaseExpiresAt) - Date.now() }
    },
    onTransition: (s) => {
      log({ level: s.state === 'bricked' ? 'error' : 'info', msg: 'custody state', ...s })
      o.onState?.(s)
      if (s.state === 'serving' || s.state === 'bricked') {
        for (const w of servingWaiters.splice(0)) w(s.state === 'serving')
      }
      if (s.state === 'bricked') resolveBricked(s)
    },
    onLeaseError: (e) => {
      log({ level: 'warn', msg: 'lease renewal failed', err: (e as Error).message })
    },
  })

  // Brick: the registry zeroises identity, STEKs and cache key first, then these run.
  agent.secrets.onWipe('node-api', async () => {
    watchAbort.abort()
    const s = sync
    sync = undefined // with `api` (below): drops the TLS context that holds the identity key
    api?.close()
    await s?.stop() // prompt: the decision feed's backoff sleep ends too
  })
  agent.secrets.onWipe('steks', () => {
    steks.close()
  })
  agent.secrets.onWipe('clearance-keys', () => {
    clearance.close() // the registry zeroised the Buffers; this drops the KeyObjects
  })
  agent.secrets.onWipe('edge', async () => {
    const e = edge
    edge = undefined
    if (e !== undefined) {
      await e.wipe()
      await e.close(0)
    }
    api = undefined
    // What held copies of secrets outside our Buffers (OpenSSL contexts of closed TLS
    // connections, node's read buffers): collected and trimmed now, not some time later.
    setTimeout(() => void releaseDroppedSecrets(), 100).unref()
  })

  let applying: Promise<void> = Promise.resolve()
  const applyBundle = (): Promise<void> =>
    (applying = applying.then(async () => {
      if (api === undefined || closed || agent.status.state !== 'serving') return
      const payload = verifyBundle(await api.bundle(), bundleKey, applied)
      if (payload.version > applied) {
        applied = payload.version
        nf = { ...nf, bundleVersion: applied }
        writeNodeFile(dir, nf)
      }
      const zones = JSON.stringify(payload.zones)
      zonesNow = payload.zones
      if (edge !== undefined && zones === zonesApplied) return
      const cfg: EdgeConfigInput = {
        listen: o.listen ?? '127.0.0.1:8443',
        sites: sitesConfig(payload.zones, dir, log),
        keyServers: {
          [POOL]: {
            servers: keyServers.servers,
            caFile: isAbsolute(keyServers.caFile)
              ? keyServers.caFile
              : join(dir, keyServers.caFile),
            certFile: join(dir, NODE_FILES.cert),
            keyFile: 'memory:identity',
          },
        },
        cache: { dir: join(dir, NODE_FILES.cache), maxBytes: o.cacheMaxBytes ?? 256 * 1024 * 1024 },
        ...(o.admin !== undefined ? { admin: o.admin } : {}),
        ...(o.metrics !== undefined ? { metrics: o.metrics } : {}),
      }
      if (edge === undefined) {
        // Test-only (core-image test): the cache key from a file, so the test knows what to look for.
        const testKeyFile =
          process.env['OUTPOST_TEST_ALLOW_CORE'] === '1'
            ? process.env['OUTPOST_TEST_CACHE_KEY_FILE']
            : undefined
        const cacheKey = agent.secrets.register(
          'cache-key',
          testKeyFile !== undefined ? readFileSync(testKeyFile) : randomBytes(32),
        )
        edge = await startEdge(cfg, {
          stekProvider: steks,
          protection,
          envelope: new AesGcmEnvelope(cacheKey),
          keyPools: {
            clientKey: () => {
              const id = agent.secrets.get('identity')
              return id === undefined ? undefined : Buffer.from(id)
            },
          },
          onError: (e, what) => {
            if (what !== 'request') log({ level: 'warn', msg: what, err: (e as Error).message })
          },
        })
        if (stateNow() !== 'serving') {
          // Bricked while starting: the wipe hook found no edge to close.
          const e = edge
          edge = undefined
          await e.wipe()
          await e.close(0)
          return
        }
        log({ level: 'info', msg: 'edge serving', address: edge.address, bundleVersion: applied })
      } else {
        await edge.reload(cfg)
        log({ level: 'info', msg: 'bundle applied', bundleVersion: applied })
      }
      zonesApplied = zones
    }))

  const watch = async (): Promise<void> => {
    while (!isClosed() && stateNow() === 'serving' && api !== undefined) {
      try {
        const r = await api.watch(applied, o.watchWaitMs ?? 20_000, watchAbort.signal)
        if ('kill' in r) {
          await agent.brick(r.kill, { detail: r.detail })
          return
        }
        if (r.bundleVersion > applied) await applyBundle()
      } catch (e) {
        if (isClosed() || watchAbort.signal.aborted) return
        log({ level: 'warn', msg: 'watch failed', err: (e as Error).message })
        await sleep(1000)
      }
    }
  }

  const boot = async (): Promise<RunningEdge> => {
    const s = agent.status
    if (s.state === 'bricked') {
      if (FINAL_REASONS.has(s.reason)) {
        throw new Error(`Cannot start node ${nf.nodeId}: bricked (${s.reason}); enrol it again`)
      }
      // lease_lost / power_loss: the control plane decides at Tang (re-admission).
      agent.readmit()
    }
    let identity: Uint8Array | undefined
    while (identity === undefined) {
      if (isClosed()) throw new Error('node closed')
      try {
        identity = await agent.unlock()
      } catch (e) {
        log({ level: 'warn', msg: 'unlock refused; retrying', err: (e as Error).message })
        await sleep(o.unlockRetryMs ?? 2000)
      }
    }
    // One TLS context for every node-API client: OpenSSL holds the key, and clears it when
    // the context is freed (after a brick drops `api` and `sync`, the only holders).
    const ca = readFileSync(join(dir, NODE_FILES.ca), 'utf8')
    const cert = readFileSync(join(dir, NODE_FILES.cert), 'utf8')
    const secureContext = createSecureContext({
      ca,
      cert,
      key: Buffer.from(identity.buffer, identity.byteOffset, identity.byteLength),
      minVersion: 'TLSv1.3',
    })
    api = new NodeApi({ url: nf.nodeApiUrl, secureContext })
    sync = new ProtectionSync({
      url: nf.nodeApiUrl,
      ca,
      cert,
      secureContext,
      protection: () => protection,
      zones: () => zonesNow,
      log,
    })
    void sync.start().catch(() => undefined)
    const serving = new Promise<boolean>((r) => servingWaiters.push(r))
    agent.startLease()
    if (!(await serving)) throw new Error(`node ${nf.nodeId} bricked before serving`)
    await applyBundle()
    if (edge === undefined) throw new Error(`node ${nf.nodeId} bricked before serving`)
    void watch()
    return edge
  }

  const ready = boot()
  ready.catch(() => undefined)

  return {
    agent,
    nodeId: nf.nodeId,
    get edge() {
      return edge
    },
    ready,
    bricked,
    close: async () => {
      closed = true
      watchAbort.abort()
      await sync?.stop()
      const e = edge
      edge = undefined
      await e?.close()
      api?.close()
      steks.close()
      clearance.close()
      await agent.shutdown()
    },
  }
}
