/**
 * startControlPlane: storage, node CA, bundle key, STEK schedule, revocation
 * push, screening index, and the two listeners (operator HTTP API on
 * loopback; node API over mTLS with client certificates from the node CA).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { TangServer } from '@outpost/custody'
import { validateConfig, splitHostPort } from '@outpost/config'
import { createCa, issueServerCert, type Issued } from '@outpost/pki'
import { loadLists, ScreeningIndex } from '@outpost/screening'
import {
  authenticateBearer,
  createToken,
  nodeRoutes,
  operatorRoutes,
  rescreenAll,
  type App,
} from './app.ts'
import {
  ControlConfigSchema,
  ENV_PREFIX,
  type ControlConfig,
  type ControlConfigInput,
} from './config.ts'
import { Router, type Ctx, type Middleware, type Principal, type Route } from './http/router.ts'
import {
  auth,
  bodyLimit,
  dispatch,
  errorHandler,
  requestId,
  routing,
  securityHeaders,
  serve,
  validate,
} from './http/middleware.ts'
import { loadNodeCa } from './node-ca.ts'
import { handleTang, lifecycleOperatorRoutes } from './node-lifecycle.ts'
import { Dashboard } from './dashboard/dashboard.ts'
import { openApiDocument } from './openapi.ts'
import { adminSocketSink, RevocationPusher, type RevocationSink } from './revocation.ts'
import { StekSchedule } from './stek.ts'
import { ClearanceKeySchedule } from './clearance-keys.ts'
import { Store } from './store/store.ts'
import { protectionRoutes } from './protection.ts'
import { statsRoutes } from './protection-stats.ts'
import { programmeRoutes } from './programme.ts'

export interface ControlPlane {
  /** Operator API, e.g. http://127.0.0.1:8440 */
  readonly url: string
  /** Node API (mTLS), e.g. https://127.0.0.1:8441 */
  readonly nodeUrl: string
  /** PEM of the node CA (what key servers and nodes pin). */
  readonly nodeCaPem: string
  /** SPKI PEM of the bundle-signing key (what edges pass to verifyBundle). */
  readonly bundlePublicKey: KeyObject
  /** The first admin token, only when the database had none (zeroise after use). */
  readonly adminToken: Buffer | undefined
  readonly config: ControlConfig
  readonly app: App
  /** Every registered route of both listeners (the OpenAPI document lists them all). */
  readonly routes: readonly Route[]
  /** Adds a revocation sink (e.g. an in-process key server). */
  addRevocationSink(sink: RevocationSink): void
  /** Reloads sanctions lists from `screening.listsDir` (see setScreeningIndex). */
  reloadScreening(): Promise<{ changed: boolean; reviewsOpened: number }>
  /** Installs a screening index; when a list version changed, re-screens every organisation. */
  setScreeningIndex(
    index: ScreeningIndex | undefined,
  ): Promise<{ changed: boolean; reviewsOpened: number }>
  close(): Promise<void>
}

export interface StartControlOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly log?: (line: Record<string, unknown>) => void
  /** Extra routes (the dashboard registers itself here). */
  readonly routes?: (app: App) => Route[]
  /** Extra authentication (dashboard session cookie), tried before the bearer token. */
  readonly authenticate?: (app: App, c: Ctx) => Promise<Principal | undefined>
  readonly now?: () => Date
  /** Create an admin token when the database has none, returned as `adminToken` (default true). */
  readonly bootstrapToken?: boolean
}

function listen(server: Server, hp: string): Promise<AddressInfo> {
  const { host, port } = splitHostPort(hp)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve(server.address() as AddressInfo)
    })
  })
}

function readIssued(files: { certFile: string; keyFile: string }): Issued {
  return { certPem: readFileSync(files.certFile, 'utf8'), keyPem: readFileSync(files.keyFile) }
}

async function loadScreening(dir: string | undefined): Promise<ScreeningIndex | undefined> {
  if (dir === undefined) return undefined
  return ScreeningIndex.fromLists(await loadLists(dir))
}

/**
 * Starts the control plane.
 *
 * @example
 * ```ts
 * const cp = await startControlPlane({ listen: '127.0.0.1:0', nodeListen: '127.0.0.1:0', database: { path: ':memory:' } })
 * console.log(cp.url, cp.nodeUrl)
 * await cp.close()
 * ```
 */
export async function startControlPlane(
  input: ControlConfigInput = {},
  options: StartControlOptions = {},
): Promise<ControlPlane> {
  const config = validateConfig(
    ControlConfigSchema,
    structuredClone(input),
    '(startControlPlane)',
    {
      envPrefix: ENV_PREFIX,
      env: options.env ?? process.env,
    },
  )
  const log =
    options.log ??
    ((l) => process.stderr.write(JSON.stringify({ service: 'control', ...l }) + '\n'))
  const closers: (() => Promise<void> | void)[] = []
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c()
    closers.length = 0
  }
  try {
    if (config.database.url === undefined && config.database.path !== ':memory:') {
      mkdirSync(dirname(config.database.path), { recursive: true, mode: 0o700 })
    }
    const store = await Store.open(
      config.database.url !== undefined
        ? { url: config.database.url, ...(options.now ? { now: options.now } : {}) }
        : { path: config.database.path, ...(options.now ? { now: options.now } : {}) },
    )
    closers.push(() => store.close())

    // Node CA and the node listener's certificate (issued before the CA key is zeroised).
    const caIssued = config.nodeCa
      ? readIssued(config.nodeCa)
      : await createCa({ commonName: 'Outpost Node CA (dev, in memory)' })
    const nodeTls = config.nodeTls
      ? readIssued(config.nodeTls)
      : await issueServerCert({
          ca: caIssued,
          commonName: 'control',
          dnsNames: ['localhost'],
          ipAddresses: ['127.0.0.1'],
        })
    const ca = await loadNodeCa(caIssued)

    let privateKey: KeyObject
    if (config.bundleKeyFile !== undefined) {
      const pem = readFileSync(config.bundleKeyFile)
      privateKey = createPrivateKey({ key: pem, format: 'pem' })
      pem.fill(0)
    } else {
      privateKey = generateKeyPairSync('ed25519').privateKey
    }
    const bundleKey = { privateKey, publicKey: createPublicKey(privateKey) }

    const steks = new StekSchedule({
      rotateMs: config.stek.rotateSeconds * 1000,
      maxRetentionMs: config.stek.maxRetentionSeconds * 1000,
    })
    closers.push(() => {
      steks.close()
    })
    const clearanceKeys = new ClearanceKeySchedule({
      rotateMs: config.clearanceKeys.rotateSeconds * 1000,
      history: config.clearanceKeys.history,
    })
    closers.push(() => {
      clearanceKeys.close()
    })
    const revocations = new RevocationPusher(
      config.keyServers.map((k) => adminSocketSink(k.adminSocket)),
    )
    closers.push(() => {
      revocations.close()
    })

    let tang: TangServer | undefined
    if (config.tang.enabled) {
      let dir = config.tang.dir
      if (dir === undefined) {
        if (config.database.url === undefined && config.database.path !== ':memory:') {
          dir = join(dirname(config.database.path), 'tang')
        } else {
          const tmp = mkdtempSync(join(tmpdir(), 'outpost-tang-'))
          closers.push(() => {
            rmSync(tmp, { recursive: true, force: true })
          })
          dir = tmp
        }
      }
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      const t = new TangServer({ dir, prefix: '/tang' })
      closers.push(() => {
        t.keys.close()
      })
      tang = t
    }

    const app: App = {
      tang,
      store,
      ca,
      bundleKey,
      steks,
      clearanceKeys,
      revocations,
      screening: await loadScreening(config.screening.listsDir),
      bundleCache: undefined,
      now: options.now ?? (() => new Date()),
    }

    // First start: an admin token, returned once.
    let adminToken: Buffer | undefined
    if (options.bootstrapToken !== false && (await store.listTokens()).length === 0) {
      adminToken = (await createToken(app, 'bootstrap', 'bootstrap admin', ['admin'])).token
    }

    const onError = (e: unknown, c: Ctx): void => {
      log({
        level: 'error',
        requestId: c.requestId,
        path: c.url.pathname,
        err: (e as Error).message,
      })
    }
    const chain = (
      router: Router,
      authn: (c: Ctx) => Promise<Principal | undefined>,
    ): Middleware[] => [
      requestId,
      securityHeaders,
      errorHandler(onError),
      bodyLimit(config.bodyLimitBytes),
      routing(router),
      auth(authn),
      validate,
      dispatch,
    ]

    const nodeRouter = new Router().add(...nodeRoutes(app))
    const dashboard = new Dashboard(app)
    const router = new Router().add(
      ...operatorRoutes(app),
      ...lifecycleOperatorRoutes(app),
      ...dashboard.routes(),
      ...protectionRoutes(app),
      ...statsRoutes(app),
      ...programmeRoutes(app, config.programme),
      ...(options.routes?.(app) ?? []),
    )
    router.add({
      method: 'GET',
      path: '/openapi.json',
      tag: 'meta',
      summary: 'This OpenAPI 3.1 document (operator and node APIs)',
      scope: 'public',
      handler: () => openApiDocument([...router.routes, ...nodeRouter.routes]),
    })
    const authenticate = async (c: Ctx): Promise<Principal | undefined> =>
      (await options.authenticate?.(app, c)) ??
      (await dashboard.authenticate(c)) ??
      authenticateBearer(app, c)

    const operatorHandler = serve({ router, middleware: chain(router, authenticate) })
    const http = createServer((req, res) => {
      if (!req.url?.startsWith('/tang/')) {
        operatorHandler(req, res)
        return
      }
      handleTang(app, req, res, log).then(
        (done) => {
          if (!done) operatorHandler(req, res)
        },
        (e: unknown) => {
          log({ level: 'error', path: '/tang', err: (e as Error).message })
          if (!res.headersSent) res.writeHead(500).end()
          else res.destroy()
        },
      )
    })
    const addr = await listen(http, config.listen)
    closers.push(
      () =>
        new Promise<void>((r) => {
          http.close(() => {
            r()
          })
          http.closeAllConnections()
        }),
    )

    const https = createHttpsServer(
      {
        cert: nodeTls.certPem,
        key: nodeTls.keyPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
      },
      serve({
        router: nodeRouter,
        middleware: chain(nodeRouter, () => Promise.resolve(undefined)),
      }),
    )
    nodeTls.keyPem.fill(0)
    const nodeAddr = await listen(https, config.nodeListen)
    closers.push(
      () =>
        new Promise<void>((r) => {
          https.close(() => {
            r()
          })
          https.closeAllConnections()
        }),
    )

    const versionsOf = (i: ScreeningIndex | undefined): string =>
      JSON.stringify(i?.versions.map((v) => v.sha256) ?? [])
    const setScreeningIndex = async (
      next: ScreeningIndex | undefined,
    ): Promise<{ changed: boolean; reviewsOpened: number }> => {
      const changed = versionsOf(next) !== versionsOf(app.screening)
      app.screening = next
      if (!changed || next === undefined) return { changed, reviewsOpened: 0 }
      return { changed, reviewsOpened: (await rescreenAll(app, 'screening:list-update')).length }
    }
    const host = (a: AddressInfo): string => (a.family === 'IPv6' ? `[${a.address}]` : a.address)
    app.urls = {
      operator: `http://${host(addr)}:${addr.port}`,
      node: `https://${host(nodeAddr)}:${nodeAddr.port}`,
    }
    log({
      level: 'info',
      msg: 'control plane listening',
      url: `http://${host(addr)}:${addr.port}`,
      nodeUrl: `https://${host(nodeAddr)}:${nodeAddr.port}`,
    })
    return {
      url: `http://${host(addr)}:${addr.port}`,
      nodeUrl: `https://${host(nodeAddr)}:${nodeAddr.port}`,
      nodeCaPem: ca.certPem,
      bundlePublicKey: bundleKey.publicKey,
      adminToken,
      config,
      app,
      routes: [...router.routes, ...nodeRouter.routes],
      addRevocationSink: (s) => {
        revocations.add(s)
      },
      reloadScreening: async () =>
        setScreeningIndex(await loadScreening(config.screening.listsDir)),
      setScreeningIndex,
      close,
    }
  } catch (e) {
    await close()
    throw e
  }
}
