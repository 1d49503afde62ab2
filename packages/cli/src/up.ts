/**
 * `outpost up`: a complete local deployment on loopback, what `npm start` runs.
 *
 * Everything lives under one state directory (default `.outpost/local`):
 *
 *   pki/                      dev CA, key-server certificate, the edge node's client certificate
 *   sites/localhost.pem       the demo site's public certificate chain (its key is NOT here)
 *   keyserver/keys/           the sealed directory keystore (dev mode keeps the shares beside it)
 *   keyserver/audit.jsonl     the key server's hash-chained audit log
 *   control/control.db        the control plane's database (node:sqlite)
 *   control/admin-token       the dev admin token (mode 0600; only its hash is in the database)
 *
 * On first start the demo site's private key is generated, imported into the key
 * server (sealed under the keystore's root key) and zeroised: from then on only
 * the key server can sign for `localhost`.
 */
import { existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs'
import { join, resolve, relative } from 'node:path'
import { X509Certificate, createHash, randomBytes } from 'node:crypto'
import { str, untilSignal, UsageError, type Command, type RunArgs } from '@outpost/command'
import { issueServerCert, writeDevPki, writeNodeCert, writeServerCert } from '@outpost/pki'
import { initKeystore, startKeyServer, type KeyServer } from '@outpost/keyserver'
import { skiOf } from '@outpost/keyless'
import { toHex } from '@outpost/wire'
import { startControlPlane, type ControlPlane } from '@outpost/control'
import { startEdge, type RunningEdge } from '@outpost/edge'
import { startOrigin, type Origin } from './origin.ts'

export interface LocalDeployment {
  readonly dir: string
  readonly keyServer: KeyServer
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
}

function rel(p: string): string {
  const r = relative(process.cwd(), p)
  return r.startsWith('..') ? p : r
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
  const nodeCert = join(dir, 'pki', 'nodes', 'edge-local.pem')
  if (!existsSync(nodeCert)) {
    await writeNodeCert(pki, { nodeId: 'edge-local', region: 'eu-central', country: 'DE' })
  }

  const keysDir = join(dir, 'keyserver', 'keys')
  const firstRun = !existsSync(join(keysDir, 'keystore.json'))
  if (firstRun) initKeystore(keysDir, { shares: 3, threshold: 2, keepSharesForDev: true })

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
      audit: { file: join(dir, 'keyserver', 'audit.jsonl') },
      dev: { autoUnseal: true },
      log: { level: 'warn' },
    },
    { handleSighup: false },
  )

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
  const edgeToken = randomBytes(32).toString('hex')
  mkdirSync(join(dir, 'edge'), { recursive: true, mode: 0o700 })
  writeFileSync(join(dir, 'edge', 'admin-token'), edgeToken, { mode: 0o600 })
  let edge: RunningEdge
  try {
    edge = await startEdge({
      listen: `127.0.0.1:${o.httpsPort}`,
      sites: [
        {
          hosts: ['localhost'],
          origin: `http://127.0.0.1:${origin.address.port}`,
          certificates: [siteChain],
          key: { ski, pool: 'safe-region' },
          cache: true,
        },
      ],
      keyServers: {
        'safe-region': {
          servers: [`${keyServer.address.host}:${keyServer.address.port}`],
          caFile: pki.caFile,
          certFile: nodeCert,
          keyFile: join(dir, 'pki', 'nodes', 'edge-local-key.pem'),
        },
      },
      cache: { dir: join(dir, 'edge', 'cache'), maxBytes: 64 * 1024 * 1024 },
      admin: {
        listen: `127.0.0.1:${o.edgeAdminPort}`,
        tokenSha256: createHash('sha256').update(edgeToken).digest('hex'),
      },
      metrics: { listen: `127.0.0.1:${o.edgeMetricsPort}` },
      accessLog: { path: join(dir, 'edge', 'access.jsonl') },
    })
  } catch (e) {
    await origin.close()
    await keyServer.close()
    throw e
  }
  const edgePort = Number(edge.address.slice(edge.address.lastIndexOf(':') + 1))

  // The control plane: node CA = the dev CA (so nodes it enrols are trusted by the key
  // server), revocations pushed to the local key server's admin socket.
  let control: ControlPlane
  try {
    control = await startControlPlane(
      {
        listen: `127.0.0.1:${o.controlPort}`,
        nodeListen: `127.0.0.1:${o.controlNodePort}`,
        database: { path: join(dir, 'control', 'control.db') },
        nodeCa: { certFile: pki.caFile, keyFile: join(dir, 'pki', 'ca-key.pem') },
        keyServers: [{ adminSocket: keyServer.adminSocket }],
      },
      { log: () => undefined },
    )
  } catch (e) {
    await edge.close()
    await origin.close()
    await keyServer.close()
    throw e
  }
  const tokenFile = join(dir, 'control', 'admin-token')
  if (control.adminToken) {
    // Development convenience, like the dev unseal shares: the token is kept for restarts.
    writeFileSync(tokenFile, control.adminToken, { mode: 0o600 })
    control.adminToken.fill(0)
  }

  const ks = `${keyServer.address.host}:${keyServer.address.port}`
  const ca = rel(pki.caFile)
  const sig = rel(join(dir, 'demo.sig'))
  const pubFile = join(dir, 'sites', 'localhost.pub.pem')
  writeFileSync(pubFile, siteKey.export({ type: 'spki', format: 'pem' }))
  const pub = rel(pubFile)
  const lines = [
    `Outpost is up on 127.0.0.1 (state in ${rel(dir)}).`,
    `key server: ${ks} (mTLS; dev mode, auto-unsealed)   metrics: http://127.0.0.1:${o.metricsPort}/metrics`,
    `edge (keyless TLS 1.3, no private key, encrypted cache): https://localhost:${edgePort}/ -> demo origin 127.0.0.1:${origin.address.port}`,
    `dashboard: ${control.url}/ui`,
    `admin token: in ${rel(tokenFile)} (log in to the dashboard with it; API: Authorization: Bearer <token>)`,
    '',
    'Fetch a page through keyless TLS:',
    `curl --cacert ${ca} https://localhost:${edgePort}/`,
    '',
    'Sign a test message through the key server over mTLS, then verify it with openssl:',
    `npx outpost keyserver keys test-sign --server ${ks} --ca ${ca} --cert ${rel(nodeCert)} --key ${rel(join(dir, 'pki', 'nodes', 'edge-local-key.pem'))} --ski ${ski} --sni localhost --message hello --out ${sig}`,
    `printf hello | openssl dgst -sha256 -verify ${pub} -signature ${sig}`,
    '',
    'Try next:',
    `  curl -s -H "Authorization: Bearer $(cat ${rel(tokenFile)})" ${control.url}/v1/nodes   # the control-plane API`,
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
    edge,
    edgePort,
    origin,
    control,
    lines,
    close: async () => {
      await control.close()
      await edge.close()
      await origin.close()
      await keyServer.close()
    },
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
Creates a development PKI and a sealed keystore (auto-unsealed in dev mode), then starts
the key server, an edge (keyless TLS 1.3, encrypted cache) in front of a demo origin, and
the control plane with its dashboard, and prints what to try next. Everything binds 127.0.0.1. State lives in --dir and is reused on restart.`,
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
