/**
 * `startEdge`: assembles one edge from its config (data plane, encrypted cache,
 * admin API, metrics, access log) and returns handles to reload, wipe and
 * close it. `outpost edge run` and `outpost up` both call it.
 *
 * Reload swaps the data-plane state (sites, origin pools, certificates, key
 * server pools) atomically: requests already running keep the state they
 * started with, new requests and new connections see the new one, and no
 * listener is rebound, so no connection is dropped. Listen addresses and the
 * cache directory are read only at start.
 */
import { splitHostPort } from '@outpost/config'
import type { Protection } from '@outpost/protect'
import http from 'node:http'
import type { AddressInfo, Server } from 'node:net'
import { AccessLog } from './access-log.ts'
import { createAdminServer } from './admin.ts'
import { DiskStore, type PurgeSelector } from './cache/disk-store.ts'
import { AesGcmEnvelope, type Envelope } from './cache/envelope.ts'
import { HttpCache } from './cache/http-cache.ts'
import { loadEdgeConfig, parseEdgeConfig, type EdgeConfig, type EdgeConfigInput } from './config.ts'
import { EdgeMetrics } from './metrics.ts'
import { EdgeServer } from './proxy/edge-server.ts'
import { RequestHandler, type RequestRecord } from './proxy/handler.ts'
import { buildState, retireState, type BuildOptions, type DataPlaneState } from './proxy/sites.ts'
import { createTlsServer, type TlsServerConfig } from '@outpost/tls'
import { EdgeCertificateSource } from './tls/certificates.ts'
import { HandshakeAdmission } from './tls/admission.ts'
import type { KeyPoolOptions } from './tls/key-pools.ts'
import { MemoryStekProvider, type EdgeStekProvider } from './stek.ts'

export interface StartEdgeOptions {
  /** Re-read on `reload()` without an argument (and on SIGHUP in `outpost edge run`). */
  readonly configFile?: string
  /** Clock for cache decisions (tests inject one). */
  readonly now?: () => number
  /** The cache envelope; default a fresh AesGcmEnvelope. `NullEnvelope` is for benchmarks only. */
  readonly envelope?: Envelope
  /** Where access log lines go instead of `accessLog.path` (tests). */
  readonly accessLogStream?: NodeJS.WritableStream
  /** Background errors (origin failures, cache writes); default: ignored. */
  readonly onError?: (e: unknown, what: string) => void
  /** Keyless client tuning (timeouts, reconnect backoff). */
  readonly keyPools?: KeyPoolOptions
  /** Overrides for the TLS server (handshake timeout, groups, ticket settings). */
  readonly tls?: Partial<Omit<TlsServerConfig, 'certificates' | 'stekProvider'>>
  /** Session ticket keys; default a MemoryStekProvider from `stek` (node mode: the lease's). */
  readonly stekProvider?: EdgeStekProvider
  /** The attack-protection engine (node mode: shared with the control-plane sync); default: created on first use. */
  readonly protection?: Protection
}

export interface RunningEdge {
  /** "HOST:PORT" of the visitor listener. */
  readonly address: string
  readonly adminAddress: string | undefined
  readonly metricsAddress: string | undefined
  /** Applies `next` (or re-reads the config file, or re-reads certificates); never drops connections. */
  reload(next?: EdgeConfigInput): Promise<void>
  /** Zeroises the cache key and STEKs and deletes every cache file; the edge keeps proxying without a cache. */
  wipe(): Promise<void>
  /** Graceful stop: in-flight requests finish (up to `graceMs`, default 5 s), then every secret is zeroised. */
  close(graceMs?: number): Promise<void>
  readonly metrics: EdgeMetrics
  readonly cache: HttpCache | undefined
  readonly steks: EdgeStekProvider
  /** Waits until background cache refreshes and writes are done (tests). */
  settle(): Promise<void>
  readonly config: EdgeConfig
}

/**
 * Starts an edge.
 *
 * @example
 * ```ts
 * const edge = await startEdge(parseEdgeConfig({ plaintext: true, sites: [...] }))
 * console.log(edge.address)
 * await edge.close()
 * ```
 */
export async function startEdge(
  input: EdgeConfigInput,
  options: StartEdgeOptions = {},
): Promise<RunningEdge> {
  let config = parseEdgeConfig(input)
  const onError = options.onError ?? (() => undefined)
  const metrics = new EdgeMetrics(() => ({ bytes: store?.bytes ?? 0, entries: store?.count ?? 0 }))
  const buildOptions: BuildOptions = {
    wrapSigner: (s) => metrics.instrument(s),
    ...(options.keyPools !== undefined ? { keyPools: options.keyPools } : {}),
  }
  let state: DataPlaneState = buildState(config, undefined, buildOptions)
  const envelope = options.envelope ?? new AesGcmEnvelope()
  const store: DiskStore | undefined =
    config.cache !== undefined
      ? await DiskStore.open({ dir: config.cache.dir, maxBytes: config.cache.maxBytes, envelope })
      : undefined
  let cache = store !== undefined ? new HttpCache(store) : undefined
  const accessLog =
    options.accessLogStream !== undefined
      ? new AccessLog({
          stream: options.accessLogStream,
          clientIp: config.accessLog?.clientIp ?? 'truncate',
          ...(config.accessLog !== undefined
            ? { rejectsPerSecond: config.accessLog.rejectsPerSecond }
            : {}),
        })
      : config.accessLog !== undefined
        ? new AccessLog(config.accessLog)
        : undefined
  const steks =
    options.stekProvider ??
    new MemoryStekProvider({
      rotateMs: config.stek.rotateSeconds * 1000,
      keepMs: config.stek.keepSeconds * 1000,
    })
  const handler = new RequestHandler({
    state: () => state,
    get cache() {
      return cache
    },
    maxEntryBytes: config.cache?.maxEntryBytes ?? 8 * 1024 * 1024,
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.protection !== undefined ? { protection: options.protection } : {}),
    onRequest: (r: RequestRecord) => {
      metrics.observe(r)
      accessLog?.write(r)
    },
    onError,
  })
  const server = new EdgeServer({
    handler,
    state: () => state,
    onError,
    limits: config.limits,
    onLimit: (reason) => {
      metrics.httpLimits.inc({ reason })
    },
  })
  metrics.frontDoorAnswers(() => server.frontDoorAnswers)
  const { host, port } = splitHostPort(config.listen)
  let listener: Server
  if (config.plaintext) {
    listener = await server.listenPlain(host, port)
  } else {
    const certificates = new EdgeCertificateSource(() => state.certificates)
    // Budgets on full handshakes, before key exchange and signing (docs/edge.md "Attack limits").
    const admission = new HandshakeAdmission({
      limits: config.limits.handshakes,
      zoneOf: (name) => certificates.zoneOf(name),
      onShed: (reason) => {
        metrics.handshakeShed.inc({ reason })
      },
    })
    listener = createTlsServer(
      {
        certificates,
        admit: admission.admit,
        alpnProtocols: ['h2', 'http/1.1'],
        stekProvider: steks,
        ...options.tls,
      },
      (conn) => {
        const info = conn.getInfo()
        if (info !== undefined) metrics.handshake(info.group, info.resumed)
        server.accept(conn, {
          clientIp: conn.remoteAddress ?? '',
          secure: true,
          ...(info?.alpnProtocol !== undefined ? { alpn: info.alpnProtocol } : {}),
          ...(info?.serverName !== undefined ? { sni: info.serverName } : {}),
        })
      },
      // The per-IP connection cap counts from TCP accept, handshakes included.
      { admitSocket: (socket) => server.admitSocket(socket) },
    )
    listener.on('tlsClientError', (e: unknown) => {
      const code = (e as { code?: unknown }).code
      metrics.handshakeFailures.inc({ reason: typeof code === 'string' ? code : 'unknown' })
    })
    await listen(listener, config.listen)
  }

  let reloading: Promise<void> = Promise.resolve()
  const reload = (next?: EdgeConfigInput): Promise<void> => {
    reloading = reloading.then(async () => {
      const cfg =
        next !== undefined
          ? parseEdgeConfig(next)
          : options.configFile !== undefined
            ? loadEdgeConfig(options.configFile)
            : config
      const old = state
      state = buildState(cfg, old, buildOptions)
      config = cfg
      await retireState(old, state)
    })
    return reloading
  }
  const purge = async (sel: PurgeSelector): Promise<number> =>
    cache === undefined ? 0 : cache.purge(sel)

  let admin: http.Server | undefined
  if (config.admin !== undefined) {
    admin = createAdminServer(Buffer.from(config.admin.tokenSha256, 'hex'), {
      purge,
      reload: () => reload(),
    })
    await listen(admin, config.admin.listen)
  }
  let metricsServer: http.Server | undefined
  if (config.metrics !== undefined) {
    metricsServer = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end()
        return
      }
      metrics.text().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType })
          res.end(text)
        },
        () => res.writeHead(500).end(),
      )
    })
    await listen(metricsServer, config.metrics.listen)
  }

  const wipe = async (): Promise<void> => {
    cache = undefined
    steks.close()
    await store?.wipe()
  }
  let closed: Promise<void> | undefined
  const close = (graceMs?: number): Promise<void> =>
    (closed ??= (async () => {
      listener.close()
      admin?.close()
      metricsServer?.close()
      admin?.closeAllConnections()
      metricsServer?.closeAllConnections()
      await server.close(graceMs)
      await handler.settle()
      await retireState(state, undefined)
      await wipe()
      await accessLog?.close()
    })())

  return {
    address: addressOf(listener),
    adminAddress: admin !== undefined ? addressOf(admin) : undefined,
    metricsAddress: metricsServer !== undefined ? addressOf(metricsServer) : undefined,
    reload,
    wipe,
    close,
    metrics,
    get cache() {
      return cache
    },
    steks,
    settle: async () => {
      await handler.settle()
      await cache?.flush()
    },
    get config() {
      return config
    },
  }
}

async function listen(server: Server, hostPort: string): Promise<void> {
  const { host, port } = splitHostPort(hostPort)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function addressOf(server: Server): string {
  const a = server.address() as AddressInfo
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
}
