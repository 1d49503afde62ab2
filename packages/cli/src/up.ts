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
import { X509Certificate } from 'node:crypto'
import { str, untilSignal, UsageError, type Command, type RunArgs } from '@outpost/command'
import { issueServerCert, writeDevPki, writeNodeCert, writeServerCert } from '@outpost/pki'
import { initKeystore, startKeyServer, type KeyServer } from '@outpost/keyserver'
import { skiOf } from '@outpost/keyless'
import { toHex } from '@outpost/wire'
import { startControlPlane, type ControlPlane } from '@outpost/control'
import { startFront, type Front } from './front.ts'

export interface LocalDeployment {
  readonly dir: string
  readonly keyServer: KeyServer
  readonly front: Front
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
  const chainPem = readFileSync(siteChain)
  const ski = toHex(skiOf(new X509Certificate(chainPem).publicKey))

  let front: Front
  try {
    front = await startFront({
      listen: { host: '127.0.0.1', port: o.httpsPort },
      originPort: o.originPort,
      chainPem,
      keyServer: keyServer.address,
      caFile: pki.caFile,
      clientCertFile: nodeCert,
      clientKeyFile: join(dir, 'pki', 'nodes', 'edge-local-key.pem'),
    })
  } catch (e) {
    await keyServer.close()
    throw e
  }

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
    await front.close()
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
  const pub = rel(join(dir, 'sites', 'localhost.pub.pem'))
  writeFileSync(
    join(dir, 'sites', 'localhost.pub.pem'),
    new X509Certificate(chainPem).publicKey.export({ type: 'spki', format: 'pem' }),
  )
  const lines = [
    `Outpost is up on 127.0.0.1 (state in ${rel(dir)}).`,
    `key server: ${ks} (mTLS; dev mode, auto-unsealed)   metrics: http://127.0.0.1:${o.metricsPort}/metrics`,
    `https front (keyless TLS 1.3, no private key in it): https://localhost:${front.address.port}/ -> demo origin 127.0.0.1:${front.originPort}`,
    `dashboard: ${control.url}/ui`,
    `admin token: in ${rel(tokenFile)} (log in to the dashboard with it; API: Authorization: Bearer <token>)`,
    '',
    'Fetch a page through keyless TLS:',
    `curl --cacert ${ca} https://localhost:${front.address.port}/`,
    '',
    'Sign a test message through the key server over mTLS, then verify it with openssl:',
    `npx outpost keyserver keys test-sign --server ${ks} --ca ${ca} --cert ${rel(nodeCert)} --key ${rel(join(dir, 'pki', 'nodes', 'edge-local-key.pem'))} --ski ${ski} --sni localhost --message hello --out ${sig}`,
    `printf hello | openssl dgst -sha256 -verify ${pub} -signature ${sig}`,
    '',
    'Try next:',
    `  curl -s -H "Authorization: Bearer $(cat ${rel(tokenFile)})" ${control.url}/v1/nodes   # the control-plane API`,
    `  npx outpost keyserver status --socket ${rel(keyServer.adminSocket)}            # sealed? keys? connections?`,
    `  npx outpost audit verify ${rel(join(dir, 'keyserver', 'audit.jsonl'))}          # every signature is in the hash-chained log`,
    `  npx outpost keyserver seal --socket ${rel(keyServer.adminSocket)}              # wipe keys from memory: new handshakes fail, curl above fails`,
    `  npx outpost pki issue-node --dir ${rel(join(dir, 'pki'))} --node-id edge-ru --region ru-west --country RU`,
    '                                                # then test-sign with that cert: refused by the key policy (PolicyDenied)',
    'Ctrl-C stops everything.',
  ]
  return {
    dir,
    keyServer,
    front,
    control,
    lines,
    close: async () => {
      await control.close()
      await front.close()
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
Creates a development PKI, a sealed keystore (auto-unsealed in dev mode), starts the key
server and an HTTPS front that terminates TLS 1.3 with keyless signatures, and prints what
to try next. Everything binds 127.0.0.1. State lives in --dir and is reused on restart.`,
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
      description: 'HTTPS front port',
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
