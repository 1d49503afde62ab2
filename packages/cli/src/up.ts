/**
 * `outpost up`: a complete local deployment on loopback, what `npm start` runs. It runs
 * the way production does (docs/node-lifecycle.md): the control plane first (node CA,
 * Tang, admin token); through its API a region, an org, a zone for `localhost` and a node
 * record; then the edge enrols as that node (identity sealed to the control plane's
 * Tang), unlocks, and serves the sites and STEKs of its lease and signed bundle. The key
 * server trusts the node CA and takes revocations from the control plane's feed.
 *
 * Everything lives under one state directory (default `.outpost/local`):
 *
 *   pki/                      dev CA (= the node CA), key-server certificate, the
 *                             test-sign client certificate, the key server's feed certificate
 *   sites/localhost.pem       the demo site's public certificate chain (its key is NOT here)
 *   keyserver/keys/           the sealed directory keystore (dev mode keeps the shares beside it)
 *   keyserver/audit.jsonl     the key server's hash-chained audit log
 *   control/control.db        the control plane's database (node:sqlite); control/tang/ its Tang keys
 *   control/admin-token       the dev admin token (mode 0600; only its hash is in the database)
 *   control/bundle-key.pem    the dev bundle-signing key (mode 0600, like the dev CA key),
 *                             so an enrolled node verifies bundles across restarts
 *   edge/node/                the enrolled node: node.json, identity.jwe (sealed), state.json
 *
 * On first start the demo site's private key is generated, imported into the key
 * server (sealed under the keystore's root key) and zeroised: from then on only
 * the key server can sign for `localhost`. A restart reuses the node (Tang unlock, no
 * new enrolment) while its registration is active; a killed node is replaced by a new
 * registration and enrolment.
 */
import { existsSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve, relative } from 'node:path'
import { X509Certificate, createHash, generateKeyPairSync, randomBytes } from 'node:crypto'
import { str, untilSignal, UsageError, type Command, type RunArgs } from '@outpost/command'
import { issueServerCert, writeDevPki, writeNodeCert, writeServerCert } from '@outpost/pki'
import { initKeystore, startKeyServer, type KeyServer } from '@outpost/keyserver'
import { skiOf } from '@outpost/keyless'
import { toHex } from '@outpost/wire'
import { startControlPlane, type ControlPlane } from '@outpost/control'
import {
  enrolNode,
  readNodeFile,
  startNode,
  writeNodeFile,
  NODE_FILES,
  type RunningEdge,
  type RunningNode,
} from '@outpost/edge'
import { startOrigin, type Origin } from './origin.ts'

export interface LocalDeployment {
  readonly dir: string
  readonly keyServer: KeyServer
  /** The edge node (custody agent, lease, bundle). */
  readonly node: RunningNode
  readonly nodeId: string
  /** True when this start enrolled the node (false: an earlier enrolment was unlocked). */
  readonly enrolled: boolean
  /** The node's edge as first served (closed by a brick). */
  readonly edge: RunningEdge
  readonly edgePort: number
  readonly origin: Origin
  readonly control: ControlPlane
  readonly lines: readonly string[]
  close(): Promise<void>
}

export interface UpOptions {
  readonly dir: string
  readonly keyServerPort: number
  readonly metricsPort: number
  readonly httpsPort: number
  readonly originPort: number
  readonly edgeAdminPort: number
  readonly edgeMetricsPort: number
  readonly controlPort: number
  readonly controlNodePort: number
  /** How long to wait for the node to serve (default 30 s). */
  readonly readyTimeoutMs?: number
}

/** The demo's region: low risk, so a restarted node unlocks without an operator. */
const REGION = 'eu-central'
const ORG = 'demo'
const ZONE = 'localhost'
const NODE_DIR = join('edge', 'node')

function rel(p: string): string {
  const r = relative(process.cwd(), p)
  return r.startsWith('..') ? p : r
}

type Api = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>

/** A client of the operator API with the admin token. */
function apiClient(url: string, token: string): Api {
  return async (method, path, body) => {
    const res = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const json = (await res.json()) as Record<string, unknown>
    if (res.status >= 300) {
      throw new Error(
        `Control plane: ${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`,
      )
    }
    return json
  }
}

/** Stops everything started so far, in reverse order. */
async function unwind(stack: readonly (() => Promise<void>)[]): Promise<void> {
  for (const f of [...stack].reverse()) await f().catch(() => undefined)
}

/** Region, org and the `localhost` zone, made or brought up to date through the API. */
async function provision(api: Api, chain: string, originUrl: string): Promise<void> {
  await api('PUT', `/v1/regions/${REGION}`, {
    name: 'Local demo (loopback)',
    country: 'DE',
    risk: 'low',
    leaseGraceSeconds: 15,
    rebootNeedsReadmission: false,
  })
  const orgs = (await api('GET', '/v1/orgs'))['orgs'] as { id: string }[]
  if (!orgs.some((g) => g.id === ORG)) {
    await api('POST', '/v1/orgs', {
      id: ORG,
      name: 'Outpost demo',
      country: 'DE',
      region: REGION,
      plan: 'free',
    })
  }
  const zones = (await api('GET', '/v1/zones'))['zones'] as {
    id: string
    origin: string
    certificateChain: string
  }[]
  const z = zones.find((x) => x.id === ZONE)
  if (z !== undefined && z.origin === originUrl && z.certificateChain === chain) return
  if (z !== undefined) await api('DELETE', `/v1/zones/${ZONE}`)
  await api('POST', '/v1/zones', {
    id: ZONE,
    orgId: ORG,
    hostnames: ['localhost'],
    origin: originUrl,
    certificateChain: chain,
  })
}

/**
 * The node directory to run: the existing enrolment when its registration is active and
 * it points at this control plane (the key-server address is brought up to date), else a
 * new registration enrolled with `enrolNode` (what `outpost edge enrol` runs).
 */
async function ensureNode(
  api: Api,
  control: ControlPlane,
  nodeDir: string,
  keyServer: string,
  keyServerCa: string,
): Promise<{ nodeId: string; enrolled: boolean }> {
  const nodes = (await api('GET', '/v1/nodes'))['nodes'] as { id: string; state: string }[]
  if (existsSync(join(nodeDir, NODE_FILES.node))) {
    const nf = readNodeFile(nodeDir)
    const rec = nodes.find((n) => n.id === nf.nodeId)
    const sameControl =
      new URL(nf.control).origin === new URL(control.url).origin &&
      new URL(nf.nodeApiUrl).origin === new URL(control.nodeUrl).origin
    if (rec?.state === 'active' && sameControl) {
      if (nf.keyServers?.servers.join(',') !== keyServer) {
        writeNodeFile(nodeDir, {
          ...nf,
          keyServers: { servers: [keyServer], caFile: nf.keyServers?.caFile ?? keyServerCa },
        })
      }
      return { nodeId: nf.nodeId, enrolled: false }
    }
    // Unusable (killed, revoked, or enrolled with another control plane): retire it and
    // enrol a new registration. Killing shreds its Tang keys, so the old JWE stays shut.
    if (rec?.state === 'active' || rec?.state === 'pending') {
      await api('POST', `/v1/nodes/${rec.id}/kill`)
    }
    rmSync(nodeDir, { recursive: true, force: true })
  }
  let n = 1
  while (nodes.some((x) => x.id === `edge-${n}`)) n++
  const nodeId = `edge-${n}`
  const reg = await api('POST', '/v1/nodes', { id: nodeId, region: REGION })
  await enrolNode({
    control: control.url,
    nodeId,
    token: String(reg['enrolToken']),
    dir: nodeDir,
    keyServers: { servers: [keyServer], caFile: keyServerCa },
  })
  return { nodeId, enrolled: true }
}

/** Starts the local deployment and returns what to print. */
export async function up(o: UpOptions): Promise<LocalDeployment> {
  const dir = resolve(o.dir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const pki = await writeDevPki(join(dir, 'pki'))
  const ksCert = join(dir, 'pki', 'servers', 'keyserver.pem')
  if (!existsSync(ksCert)) {
    await writeServerCert(pki, 'keyserver', { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
  }
  // A client certificate for the test-sign line (not the edge: its identity is enrolled).
  const clientCert = join(dir, 'pki', 'nodes', 'edge-local.pem')
  const clientKey = join(dir, 'pki', 'nodes', 'edge-local-key.pem')
  if (!existsSync(clientCert)) {
    await writeNodeCert(pki, { nodeId: 'edge-local', region: REGION, country: 'DE' })
  }
  // The key server's client certificate for the control plane's revocation feed.
  const feedCert = join(dir, 'pki', 'nodes', 'keyserver-feed.pem')
  if (!existsSync(feedCert)) {
    await writeNodeCert(pki, { nodeId: 'keyserver-feed', region: REGION, country: 'DE' })
  }
  const stack: (() => Promise<void>)[] = []

  // 1. The control plane: node CA = the dev CA (so the nodes it enrols are trusted by
  //    the key server), Tang for node unlock, a persistent bundle key for restarts.
  mkdirSync(join(dir, 'control'), { recursive: true, mode: 0o700 })
  const bundleKeyFile = join(dir, 'control', 'bundle-key.pem')
  if (!existsSync(bundleKeyFile)) {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })
    writeFileSync(bundleKeyFile, pem, { mode: 0o600 })
  }
  const control = await startControlPlane(
    {
      listen: `127.0.0.1:${o.controlPort}`,
      nodeListen: `127.0.0.1:${o.controlNodePort}`,
      database: { path: join(dir, 'control', 'control.db') },
      nodeCa: { certFile: pki.caFile, keyFile: join(dir, 'pki', 'ca-key.pem') },
      bundleKeyFile,
    },
    { log: () => undefined },
  )
  stack.push(() => control.close())
  try {
    const tokenFile = join(dir, 'control', 'admin-token')
    if (control.adminToken) {
      // Development convenience, like the dev unseal shares: the token is kept for restarts.
      writeFileSync(tokenFile, control.adminToken, { mode: 0o600 })
      control.adminToken.fill(0)
    }
    if (!existsSync(tokenFile)) {
      throw new Error(
        `Cannot find the admin token in ${tokenFile} (the database has tokens): remove ${dir} to start afresh`,
      )
    }
    // fetch takes header values as strings only; the dev token is on disk anyway.
    const api = apiClient(control.url, readFileSync(tokenFile, 'utf8').trim())

    // 2. The key server: trusts the node CA, revocations from the control plane's feed.
    const keysDir = join(dir, 'keyserver', 'keys')
    if (!existsSync(join(keysDir, 'keystore.json'))) {
      initKeystore(keysDir, { shares: 3, threshold: 2, keepSharesForDev: true })
    }
    const keyServer = await startKeyServer(
      {
        listen: `127.0.0.1:${o.keyServerPort}`,
        metricsListen: `127.0.0.1:${o.metricsPort}`,
        adminSocket: join(dir, 'keyserver', 'admin.sock'),
        tls: {
          certFile: ksCert,
          keyFile: join(dir, 'pki', 'servers', 'keyserver-key.pem'),
          caFile: pki.caFile,
        },
        keystore: { type: 'directory', dir: keysDir },
        revocationFeed: {
          url: control.nodeUrl,
          caFile: pki.caFile,
          certFile: feedCert,
          keyFile: join(dir, 'pki', 'nodes', 'keyserver-feed-key.pem'),
        },
        audit: { file: join(dir, 'keyserver', 'audit.jsonl') },
        dev: { autoUnseal: true },
        log: { level: 'warn' },
      },
      { handleSighup: false },
    )
    stack.push(() => keyServer.close())

    const siteChain = join(dir, 'sites', 'localhost.pem')
    if (!existsSync(siteChain) || keyServer.listKeys().length === 0) {
      // The customer's key: generated here for the demo, sealed into the key server,
      // zeroised. Its policy keeps it out of nodes in RU and BY.
      const site = await issueServerCert({
        ca: pki.ca,
        commonName: 'localhost',
        dnsNames: ['localhost'],
        ipAddresses: ['127.0.0.1'],
      })
      try {
        keyServer.importKey(site.keyPem, {
          denyCountries: ['RU', 'BY'],
          allowServerNames: ['localhost'],
        })
      } finally {
        site.keyPem.fill(0)
      }
      mkdirSync(join(dir, 'sites'), { recursive: true })
      writeFileSync(siteChain, site.certPem + readFileSync(pki.caFile, 'utf8'))
    }
    const siteKey = new X509Certificate(readFileSync(siteChain)).publicKey
    const ski = toHex(skiOf(siteKey))

    const origin = await startOrigin(o.originPort)
    stack.push(() => origin.close())

    // 3. Region, org, zone; then the node: registered, enrolled, unlocked, serving.
    await provision(api, readFileSync(siteChain, 'utf8'), `http://127.0.0.1:${origin.address.port}`)
    const ks = `${keyServer.address.host}:${keyServer.address.port}`
    const nodeDir = join(dir, NODE_DIR)
    const { nodeId, enrolled } = await ensureNode(api, control, nodeDir, ks, pki.caFile)

    const edgeToken = randomBytes(32).toString('hex')
    mkdirSync(join(dir, 'edge'), { recursive: true, mode: 0o700 })
    writeFileSync(join(dir, 'edge', 'admin-token'), edgeToken, { mode: 0o600 })
    const node = startNode({
      dir: nodeDir,
      listen: `127.0.0.1:${o.httpsPort}`,
      admin: {
        listen: `127.0.0.1:${o.edgeAdminPort}`,
        tokenSha256: createHash('sha256').update(edgeToken).digest('hex'),
      },
      metrics: { listen: `127.0.0.1:${o.edgeMetricsPort}` },
      cacheMaxBytes: 64 * 1024 * 1024,
      log: (l) => {
        if (l['level'] === 'warn' || l['level'] === 'error') {
          process.stderr.write(JSON.stringify({ service: 'edge-node', ...l }) + '\n')
        }
      },
    })
    stack.push(() => node.close())
    const timeoutMs = o.readyTimeoutMs ?? 30_000
    let timer: NodeJS.Timeout | undefined
    const edge = await Promise.race([
      node.ready,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(
            new Error(
              `Edge node ${nodeId} did not serve within ${timeoutMs / 1000} s (state: ${node.agent.status.state})`,
            ),
          )
        }, timeoutMs)
      }),
    ]).finally(() => {
      clearTimeout(timer)
    })
    const edgePort = Number(edge.address.slice(edge.address.lastIndexOf(':') + 1))

    const tok = rel(tokenFile)
    const ctl = `OUTPOST_CONTROL_URL=${control.url} OUTPOST_CONTROL_TOKEN=$(cat ${tok}) npx outpost ctl`
    const ca = rel(pki.caFile)
    const sig = rel(join(dir, 'demo.sig'))
    const pubFile = join(dir, 'sites', 'localhost.pub.pem')
    writeFileSync(pubFile, siteKey.export({ type: 'spki', format: 'pem' }))
    const pub = rel(pubFile)
    const lines = [
      `Outpost is up on 127.0.0.1 (state in ${rel(dir)}).`,
      `control plane: ${control.url} (node API ${control.nodeUrl}; node CA ${ca}; Tang at ${control.url}/tang/<node>)`,
      `key server: ${ks} (mTLS; dev mode, auto-unsealed; revocations from the control plane's feed)   metrics: http://127.0.0.1:${o.metricsPort}/metrics`,
      `edge node ${nodeId} (${enrolled ? 'enrolled now' : 'enrolment reused'}, unlocked via Tang; zone, STEKs and lease from the control plane): https://localhost:${edgePort}/ -> demo origin 127.0.0.1:${origin.address.port}`,
      `dashboard: ${control.url}/ui`,
      `admin token: in ${tok} (log in to the dashboard with it; API: Authorization: Bearer <token>)`,
      '',
      'Fetch a page through keyless TLS:',
      `curl --cacert ${ca} https://localhost:${edgePort}/`,
      '',
      'Sign a test message through the key server over mTLS, then verify it with openssl:',
      `npx outpost keyserver keys test-sign --server ${ks} --ca ${ca} --cert ${rel(clientCert)} --key ${rel(clientKey)} --ski ${ski} --sni localhost --message hello --out ${sig}`,
      `printf hello | openssl dgst -sha256 -verify ${pub} -signature ${sig}`,
      '',
      'Try next:',
      `  ${ctl} nodes list   # ${nodeId}: active, with its last lease`,
      `  npx outpost edge status --dir ${rel(nodeDir)}   # custody state: serving (exit 0)`,
      `  ${ctl} nodes kill ${nodeId}`,
      '                                                # the edge bricks within a second (secrets wiped, listener closed): curl fails;',
      '                                                # the next npm start registers and enrols a new node',
      `  npx outpost keyserver status --socket ${rel(keyServer.adminSocket)}            # sealed? keys? connections?`,
      `  npx outpost audit verify ${rel(join(dir, 'keyserver', 'audit.jsonl'))}          # every signature is in the hash-chained log`,
      `  npx outpost keyserver seal --socket ${rel(keyServer.adminSocket)}              # wipe keys from memory: new full handshakes fail fast with an alert,`,
      `                                                # resumed ones (session tickets) keep working; 'npx outpost keyserver unseal' with 2 shares brings it back`,
      `  npx outpost edge purge --admin 127.0.0.1:${o.edgeAdminPort} --token-file ${rel(join(dir, 'edge', 'admin-token'))} --host localhost   # empty the encrypted cache`,
      `  curl -s http://127.0.0.1:${o.edgeMetricsPort}/metrics | grep outpost_   # handshakes, keyless latency, cache hits`,
      `  npx outpost pki issue-node --dir ${rel(join(dir, 'pki'))} --node-id edge-ru --region ru-west --country RU`,
      '                                                # then test-sign with that cert: refused by the key policy (PolicyDenied)',
      'Ctrl-C stops everything.',
    ]
    return {
      dir,
      keyServer,
      node,
      nodeId,
      enrolled,
      edge,
      edgePort,
      origin,
      control,
      lines,
      close: () => unwind(stack),
    }
  } catch (e) {
    await unwind(stack)
    throw e
  }
}

function port(a: RunArgs, name: string, def: number): number {
  const v = str(a, name)
  if (v === undefined) return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`Invalid --${name} '${v}'`)
  return n
}

export const upCommand: Command = {
  name: 'up',
  summary: 'Start a complete local deployment on loopback (what npm start runs)',
  description: `
Creates a development PKI, starts the control plane (node CA, Tang, dashboard), and
through its API a region, an org, a zone for localhost in front of a demo origin and a
node record; starts the key server (sealed keystore, auto-unsealed in dev mode;
revocations from the control plane's feed); enrols an edge node (identity sealed to the
control plane's Tang), unlocks it and runs it (keyless TLS 1.3, encrypted cache, sites
and STEKs from the control plane), and prints what to try next. Everything binds
127.0.0.1. State lives in --dir and is reused on restart.`,
  options: {
    dir: {
      type: 'string',
      value: 'DIR',
      description: 'State directory',
      default: '.outpost/local',
    },
    'keyserver-port': {
      type: 'string',
      value: 'PORT',
      description: 'Key server port',
      default: '2407',
    },
    'metrics-port': {
      type: 'string',
      value: 'PORT',
      description: 'Key server metrics port',
      default: '2406',
    },
    'https-port': {
      type: 'string',
      value: 'PORT',
      description: 'Edge HTTPS port',
      default: '8443',
    },
    'origin-port': {
      type: 'string',
      value: 'PORT',
      description: 'Demo origin port',
      default: '8080',
    },
  },
  run: async (a) => {
    const d = await up({
      dir: str(a, 'dir') ?? '.outpost/local',
      keyServerPort: port(a, 'keyserver-port', 2407),
      metricsPort: port(a, 'metrics-port', 2406),
      httpsPort: port(a, 'https-port', 8443),
      originPort: port(a, 'origin-port', 8080),
      edgeAdminPort: port(a, 'edge-admin-port', 9444),
      edgeMetricsPort: port(a, 'edge-metrics-port', 9445),
      controlPort: port(a, 'control-port', 8440),
      controlNodePort: port(a, 'control-node-port', 8441),
    })
    a.out.write(d.lines.join('\n') + '\n')
    try {
      await untilSignal()
    } finally {
      a.out.write('Stopping...\n')
      await d.close()
    }
    return 0
  },
}
