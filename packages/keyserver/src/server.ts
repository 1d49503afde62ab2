/**
 * The key server process: mTLS listener, keystore, policy, audit, metrics and
 * the local admin API, wired together. `startKeyServer` is the programmatic
 * entry point (`outpost keyserver run` and `outpost up` call it).
 */
import { mkdirSync, readFileSync } from 'node:fs'
import type { Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { validateConfig, splitHostPort } from '@outpost/config'
import { releaseDroppedSecrets } from '@outpost/tls'
import { nodeIdentityFromCert } from '@outpost/pki'
import pino, { type Logger } from 'pino'
import { serveConnection, type PeerInfo } from './_keyless.ts'
import { adminRequest, serveAdmin } from './admin.ts'
import { AuditLog } from './audit.ts'
import {
  ENV_PREFIX,
  KeyServerConfigSchema,
  type KeyServerConfig,
  type KeyServerConfigInput,
} from './config.ts'
import { KeyServerError } from './errors.ts'
import { createHandler } from './handler.ts'
import type { KeyListing, Keystore, SealStatus } from './keystore.ts'
import { KeyServerMetrics, serveMetrics } from './metrics.ts'
import { parseKeyPolicy, type KeyPolicy } from './policy.ts'
import { TokenBuckets } from './rate-limit.ts'
import { RevocationList } from './revocations.ts'
import { feedFromFiles } from './revocation-feed.ts'
import { DirectoryKeystore, type ShareProgress } from './sealed-keystore.ts'
import { Pkcs11Keystore } from './pkcs11-keystore.ts'

/** TLS 1.2 suites offered to existing keyless clients (gokeyless, C keyless). */
export const TLS12_CIPHERS = 'ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384'

export interface HostPort {
  readonly host: string
  readonly port: number
}

export interface KeyServerStatus extends SealStatus {
  readonly connections: number
  readonly revoked: number
}

export interface KeyServer {
  /** The keyless mTLS listener. */
  readonly address: HostPort
  /** The /metrics listener, unless disabled. */
  readonly metricsAddress: HostPort | undefined
  /** Path of the admin Unix socket. */
  readonly adminSocket: string
  readonly config: KeyServerConfig
  /** Stops listening, closes connections, seals, flushes the audit log. */
  close(): Promise<void>
  /**
   * Wipes every key from memory (directory keystore): the keystore drops and zeroes its
   * keys at once (throws for keystores that cannot seal); the promise settles once what
   * held them has been collected and the C heap trimmed (releaseDroppedSecrets, @outpost/tls).
   */
  seal(): Promise<void>
  /** Adds one share; unseals when the threshold is reached. */
  unseal(share: string | Uint8Array): ShareProgress
  status(): KeyServerStatus
  /** Seals a private key (PEM or PKCS#8 DER bytes) into the directory keystore. */
  importKey(key: Uint8Array, policy?: KeyPolicy): KeyListing
  listKeys(): KeyListing[]
  /** Replaces the revocation list; revoked nodes' connections are closed at once. */
  replaceRevocations(nodeIds: readonly string[]): void
}

export interface StartOptions {
  /** A pino logger; defaults to JSON on stderr at `config.log.level`. */
  readonly logger?: Logger
  /** Environment for OUTPOST_KEYSERVER_* overrides and the PKCS#11 PIN (default process.env). */
  readonly env?: NodeJS.ProcessEnv
  /** Where the dev-mode warning goes (default process.stderr). */
  readonly warn?: (text: string) => void
  /** Reload revocations on SIGHUP (default true). */
  readonly handleSighup?: boolean
}

/** serveConnection events that answer a request with an error, and the error's name. */
const connectionRefusals: Partial<Record<string, string>> = {
  'unexpected-opcode': 'UnexpectedOpcode',
  busy: 'Busy',
  'format-error': 'Format',
}

/**
 * Starts a key server. `input` is validated like the YAML file (defaults
 * filled in, errors name the field); OUTPOST_KEYSERVER_* variables in
 * `options.env` override it.
 *
 * @example
 * ```ts
 * const ks = await startKeyServer({
 *   listen: '127.0.0.1:0',
 *   tls: { certFile, keyFile, caFile },
 *   keystore: { type: 'directory', dir },
 * })
 * ks.unseal(share1); ks.unseal(share2)
 * ```
 */
export async function startKeyServer(
  input: KeyServerConfigInput,
  options: StartOptions = {},
): Promise<KeyServer> {
  const env = options.env ?? process.env
  const config = validateConfig(KeyServerConfigSchema, structuredClone(input), '(startKeyServer)', {
    envPrefix: ENV_PREFIX,
    env,
  })
  const log =
    options.logger ??
    pino(
      { name: 'keyserver', level: config.log.level, base: { service: 'keyserver' } },
      pino.destination(2),
    )
  const warn = options.warn ?? ((t: string) => process.stderr.write(t))
  const closers: (() => Promise<void> | void)[] = []
  const cleanup = async (): Promise<void> => {
    for (const c of closers.reverse()) {
      try {
        await c()
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'error while closing')
      }
    }
  }

  try {
    const metrics = new KeyServerMetrics()
    // Keystore.
    let keystore: Keystore
    let directory: DirectoryKeystore | undefined
    if (config.keystore.type === 'directory') {
      directory = DirectoryKeystore.open(config.keystore.dir)
      keystore = directory
      if (config.dev.autoUnseal) {
        warn(
          '\n' +
            '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' +
            '!! WARNING: dev.autoUnseal is on. The unseal shares are stored next to the   !!\n' +
            '!! keys, so the keystore is NOT protected at rest. Never use this in         !!\n' +
            '!! production; run `outpost keyserver unseal SHARE` instead.                 !!\n' +
            '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n',
        )
        if (!directory.unsealFromDevShares()) {
          throw new KeyServerError(
            'ERR_KEYSERVER_KEYSTORE',
            `Cannot auto-unseal: ${config.keystore.dir} has no dev shares (run 'outpost keyserver init --dev')`,
          )
        }
      }
    } else {
      const ks = config.keystore
      const pin = env[ks.pinEnv]
      if (pin === undefined || pin === '') {
        throw new KeyServerError(
          'ERR_KEYSERVER_PKCS11',
          `Cannot open PKCS#11 token: environment variable ${ks.pinEnv} is not set`,
        )
      }
      // The worker gets the PIN as bytes; keep it out of the environment that
      // child processes would inherit.
      if (env === process.env) Reflect.deleteProperty(process.env, ks.pinEnv)
      const policies = new Map<string, KeyPolicy>(
        Object.entries(ks.policies).map(([k, v]) => [k, parseKeyPolicy(v)]),
      )
      keystore = await Pkcs11Keystore.open({
        module: ks.module,
        tokenLabel: ks.tokenLabel,
        pin: Buffer.from(pin),
        policies,
      })
    }
    closers.push(() => keystore.close())
    const updateSealGauge = (): void => {
      metrics.sealed.set(keystore.isSealed() ? 1 : 0)
    }
    updateSealGauge()
    for (const err of directory?.loadErrors ?? [])
      log.error({ file: err }, 'key file failed to open')

    // Audit log.
    mkdirSync(dirname(config.audit.file), { recursive: true, mode: 0o700 })
    const audit = await AuditLog.open(config.audit.file, {
      writeDelayMs: config.audit.writeDelayMs,
    })
    closers.push(() => audit.close())

    // Connections by node, so revocation can close them.
    const byNode = new Map<string, Set<TLSSocket>>()
    const allSockets = new Set<TLSSocket>()
    const revocations = new RevocationList(
      config.revocationsFile,
      (ids) => {
        let closed = 0
        for (const id of ids) {
          for (const s of byNode.get(id) ?? []) {
            s.destroy()
            closed++
          }
        }
        log.info({ revoked: ids.size, closed }, 'revocation list changed')
      },
      (e) => {
        log.error({ err: e.message }, 'cannot reload revocations; keeping the previous list')
      },
    )
    revocations.reload()
    revocations.watch()
    if (config.revocationFeed !== undefined) {
      const feed = feedFromFiles(revocations, config.revocationFeed, {
        onError: (e) => {
          log.error({ err: e.message }, 'revocation feed')
        },
      })
      feed.start()
      closers.push(() => {
        feed.close()
      })
    }
    closers.push(() => {
      revocations.close()
    })
    if (options.handleSighup !== false) {
      const onHup = (): void => {
        log.info('SIGHUP: reloading revocations')
        revocations.reload()
      }
      process.on('SIGHUP', onHup)
      closers.push(() => {
        process.off('SIGHUP', onHup)
      })
    }

    const { handler } = createHandler({
      keystore: () => keystore,
      revocations,
      buckets: new TokenBuckets(config.limits.ratePerNode, config.limits.burstPerNode),
      audit,
      metrics,
      requireNodeIdentity: config.requireNodeIdentity,
      maxInFlightTotal: config.limits.maxInFlightTotal,
      onRefusal: (peer, op, result, message) => {
        log.info({ node: peer.nodeId, remote: peer.remoteAddress, op, result }, message)
      },
    })

    // mTLS listener.
    const listen = splitHostPort(config.listen)
    const tlsServer = createTlsServer({
      cert: readFileSync(config.tls.certFile),
      key: readFileSync(config.tls.keyFile),
      ca: readFileSync(config.tls.caFile),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: config.tls.allowTls12 ? 'TLSv1.2' : 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: TLS12_CIPHERS,
      honorCipherOrder: true,
    })
    tlsServer.on('tlsClientError', (e, socket) => {
      log.debug({ err: e.message, remote: socket.remoteAddress }, 'TLS handshake failed')
    })
    tlsServer.on('secureConnection', (socket: TLSSocket) => {
      const id = nodeIdentityFromCert(socket.getPeerX509Certificate())
      const peer: PeerInfo = {
        remoteAddress: socket.remoteAddress ?? '',
        ...(id !== undefined ? { nodeId: id.nodeId, region: id.region, country: id.country } : {}),
      }
      if (id !== undefined && revocations.has(id.nodeId)) {
        metrics.connectionsRefused.labels('revoked').inc()
        log.info(
          { node: id.nodeId, remote: peer.remoteAddress },
          'connection from a revoked node refused',
        )
        audit.append({
          node: id.nodeId,
          ski: null,
          op: '(connect)',
          sni: null,
          clientIp: null,
          result: 'Revoked',
          latencyUs: 0,
        })
        socket.destroy()
        return
      }
      allSockets.add(socket)
      metrics.connections.inc()
      if (id !== undefined) {
        let set = byNode.get(id.nodeId)
        if (set === undefined) byNode.set(id.nodeId, (set = new Set()))
        set.add(socket)
      }
      socket.once('close', () => {
        allSockets.delete(socket)
        metrics.connections.dec()
        if (id !== undefined) {
          const set = byNode.get(id.nodeId)
          set?.delete(socket)
          if (set?.size === 0) byNode.delete(id.nodeId)
        }
      })
      // serveConnection writes the answers of one read (or one turn) together,
      // so no-delay costs no extra packets and saves a round trip per batch.
      socket.setNoDelay(true)
      serveConnection(socket, handler, {
        peer,
        maxInFlight: config.limits.maxInFlightPerConnection,
        idleTimeoutMs: config.limits.idleTimeoutMs,
        // Payload and SKI as views of the TLS chunk (no copy per request): the
        // handler only reads them, and the PKCS#11 keystore copies what it
        // posts to its worker.
        itemViews: true,
        onEvent: (e) => {
          if (e.kind === 'closed' || e.kind === 'paused' || e.kind === 'resumed') return
          // Refusals made by serveConnection itself are audited like the handler's.
          const refusal = connectionRefusals[e.kind]
          if (refusal !== undefined) {
            metrics.record('(connection)', refusal, 0)
            audit.append({
              node: peer.nodeId ?? null,
              ski: null,
              op:
                e.kind === 'unexpected-opcode'
                  ? (e.detail?.split(': ')[1] ?? 'unknown')
                  : '(unparsed)',
              sni: null,
              clientIp: null,
              result: refusal,
              latencyUs: 0,
            })
          }
          const level = e.kind === 'busy' || e.kind === 'idle-timeout' ? 'debug' : 'warn'
          log[level](
            { node: peer.nodeId, remote: peer.remoteAddress, event: e.kind },
            e.detail ?? e.kind,
          )
        },
      })
    })
    await new Promise<void>((resolve, reject) => {
      tlsServer.once('error', reject)
      tlsServer.listen(listen.port, listen.host, () => {
        tlsServer.off('error', reject)
        resolve()
      })
    })
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          tlsServer.close(() => {
            resolve()
          })
          for (const s of allSockets) s.destroy()
        }),
    )
    const a = tlsServer.address() as AddressInfo
    const address = { host: a.address, port: a.port }

    // Metrics.
    let metricsAddress: HostPort | undefined
    if (config.metricsListen !== 'off') {
      const m = splitHostPort(config.metricsListen)
      const served = await serveMetrics(metrics, m.host, m.port)
      metricsAddress = served.address
      closers.push(() => closeHttp(served.server))
    }

    // The server object and the admin API over it.
    const requireDirectory = (what: string): DirectoryKeystore => {
      if (directory === undefined) {
        throw new KeyServerError(
          'ERR_KEYSERVER_KEYSTORE',
          `Cannot ${what}: the ${keystore.kind} keystore does not support it`,
        )
      }
      return directory
    }
    const server: KeyServer = {
      address,
      metricsAddress,
      adminSocket: config.adminSocket,
      config,
      close: cleanup,
      seal() {
        requireDirectory('seal').seal()
        updateSealGauge()
        return releaseDroppedSecrets().then((trimmed) => {
          log.warn({ heapTrimmed: trimmed }, 'keystore sealed: every key was wiped from memory')
        })
      },
      unseal(share) {
        const bytes = typeof share === 'string' ? Buffer.from(share) : share
        try {
          const p = requireDirectory('unseal').submitShare(bytes)
          log.info(
            { progress: p.progress, threshold: p.threshold, sealed: p.sealed },
            'unseal share accepted',
          )
          if (!p.sealed) {
            log.info({ keys: keystore.status().keys }, 'keystore unsealed')
            for (const err of directory?.loadErrors ?? [])
              log.error({ file: err }, 'key file failed to open')
          }
          return p
        } catch (e) {
          log.warn({ err: (e as Error).message }, 'unseal share refused')
          throw e
        } finally {
          updateSealGauge()
        }
      },
      status() {
        return {
          ...keystore.status(),
          connections: allSockets.size,
          revoked: revocations.ids.length,
        }
      },
      importKey(key, policy = {}) {
        const listed = requireDirectory('import keys').importKey(key, policy)
        log.info({ ski: listed.ski, type: listed.type }, 'key imported')
        return listed
      },
      listKeys: () => keystore.list(),
      replaceRevocations(ids) {
        revocations.replace(ids)
      },
    }

    const admin = await serveAdmin(config.adminSocket, {
      status: () => server.status(),
      unseal: (share) => server.unseal(share),
      seal: async () => {
        await server.seal()
        return server.status()
      },
      listKeys: () => server.listKeys(),
      importKey: (key, policy) => server.importKey(key, parseKeyPolicy(policy)),
      listRevocations: () => ({ nodeIds: revocations.ids }),
      replaceRevocations: (ids) => {
        if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) {
          throw new KeyServerError(
            'ERR_KEYSERVER_ADMIN',
            'Cannot replace revocations: expected a JSON array of node ids',
          )
        }
        server.replaceRevocations(ids)
        return { nodeIds: revocations.ids }
      },
    })
    closers.push(() => closeHttp(admin))

    log.info(
      {
        listen: `${address.host}:${address.port}`,
        metrics: metricsAddress ? `${metricsAddress.host}:${metricsAddress.port}` : 'off',
        admin: config.adminSocket,
        keystore: keystore.kind,
        sealed: keystore.isSealed(),
      },
      'key server started',
    )
    return server
  } catch (e) {
    await cleanup()
    throw e
  }
}

function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve()
    })
    server.closeAllConnections()
  })
}

export { adminRequest }
