/**
 * A complete key server on loopback for integration tests: a CA, a server
 * certificate, node certificates, an initialised keystore, and clients.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCa, issueNodeCert, issueServerCert, type Issued } from '@outpost/pki'
import { KeylessClient } from '@outpost/keyless'
import pino from 'pino'
import {
  initKeystore,
  startKeyServer,
  type KeyServer,
  type KeyServerConfigInput,
} from '@outpost/keyserver'

export interface NodeFiles {
  readonly certFile: string
  readonly keyFile: string
  readonly issued: Issued
}

export interface Fixture {
  readonly dir: string
  readonly caFile: string
  readonly ca: Issued
  readonly shares: string[]
  readonly server: KeyServer
  readonly config: KeyServerConfigInput
  node(nodeId: string, region?: string, country?: string): Promise<NodeFiles>
  client(node: NodeFiles, o?: { tlsMaxVersion?: 'TLSv1.2' | 'TLSv1.3' }): KeylessClient
  cleanup(): Promise<void>
}

export interface FixtureOptions {
  readonly shares?: number
  readonly threshold?: number
  readonly overrides?: Partial<KeyServerConfigInput>
  readonly devAutoUnseal?: boolean
  readonly handleSighup?: boolean
  readonly env?: NodeJS.ProcessEnv
}

export async function startFixture(o: FixtureOptions = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'keyserver-it-'))
  const write = (name: string, data: string | Uint8Array, mode = 0o600): string => {
    const p = join(dir, name)
    writeFileSync(p, data, { mode })
    return p
  }
  const ca = await createCa({ commonName: 'Test Node CA' })
  const caFile = write('ca.pem', ca.certPem, 0o644)
  const srv = await issueServerCert({
    ca,
    commonName: 'keyserver',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  })
  const certFile = write('server.pem', srv.certPem, 0o644)
  const keyFile = write('server-key.pem', srv.keyPem)
  const keystoreDir = join(dir, 'keystore')
  const shares = initKeystore(keystoreDir, {
    shares: o.shares ?? 3,
    threshold: o.threshold ?? 2,
    keepSharesForDev: o.devAutoUnseal === true,
  })
  const config: KeyServerConfigInput = {
    listen: '127.0.0.1:0',
    metricsListen: '127.0.0.1:0',
    adminSocket: join(dir, 'admin.sock'),
    tls: { certFile, keyFile, caFile },
    keystore: { type: 'directory', dir: keystoreDir },
    revocationsFile: join(dir, 'revoked.txt'),
    audit: { file: join(dir, 'audit.jsonl') },
    ...(o.devAutoUnseal === true ? { dev: { autoUnseal: true } } : {}),
    ...o.overrides,
  }
  const server = await startKeyServer(config, {
    logger: pino({ level: process.env['KEYSERVER_TEST_LOG'] ?? 'silent' }),
    handleSighup: o.handleSighup ?? false,
    warn: () => undefined,
    env: o.env ?? {},
  })
  const clients: KeylessClient[] = []
  return {
    dir,
    caFile,
    ca,
    shares,
    server,
    config,
    async node(nodeId, region = 'eu-central', country = 'DE') {
      const issued = await issueNodeCert({ ca, nodeId, region, country })
      return {
        issued,
        certFile: write(`${nodeId}.pem`, issued.certPem, 0o644),
        keyFile: write(`${nodeId}-key.pem`, issued.keyPem),
      }
    },
    client(node, co = {}) {
      const c = new KeylessClient({
        servers: [{ host: '127.0.0.1', port: server.address.port, servername: 'localhost' }],
        ca: ca.certPem,
        cert: node.issued.certPem,
        key: new Uint8Array(node.issued.keyPem),
        operationTimeoutMs: 5000,
        reconnectBaseMs: 50,
        reconnectMaxMs: 200,
        ...co,
      })
      clients.push(c)
      return c
    },
    async cleanup() {
      for (const c of clients) await c.close()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** `outpost keyserver run` as a child process, and the CLI against it. */
export interface KeyServerProcess {
  readonly child: ChildProcess
  readonly port: number
  readonly configFile: string
  /** What the process wrote to stderr so far. */
  stderr(): string
  /** `outpost keyserver ARGS --config FILE`; throws unless it exits 0; returns stdout. */
  readonly cli: (...args: string[]) => string
  /** Kills the process (SIGKILL); the caller's job in t.after. */
  readonly kill: () => void
}

const MAIN = join(import.meta.dirname, '..', '..', 'cli', 'src', 'main.ts')

/**
 * Starts `outpost keyserver run` on the fixture's PKI and dev keystore (close the fixture's
 * own server first; `devAutoUnseal` fixtures start unsealed), and waits for its port.
 */
export async function runKeyServerProcess(
  f: Fixture,
  name: string,
  extraConfig: string[] = [],
): Promise<KeyServerProcess> {
  const c = f.config
  const configFile = join(f.dir, `${name}.yaml`)
  writeFileSync(
    configFile,
    [
      `listen: 127.0.0.1:0`,
      `metricsListen: "off"`,
      `adminSocket: ${c.adminSocket!}`,
      `tls: { certFile: ${c.tls.certFile}, keyFile: ${c.tls.keyFile}, caFile: ${c.tls.caFile} }`,
      `keystore: { type: directory, dir: ${(c.keystore as { dir: string }).dir} }`,
      `audit: { file: ${join(f.dir, `${name}-audit.jsonl`)} }`,
      `dev: { autoUnseal: true }`,
      ...extraConfig,
      '',
    ].join('\n'),
  )
  const child = spawn(process.execPath, [MAIN, 'keyserver', 'run', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
      // Wait for both the banner and the JSON log line (they may arrive in separate chunks).
      const m = /keyserver listening on 127\.0\.0\.1:(\d+)/.exec(stderr)
      if (m && stderr.includes('"key server started"')) resolve(Number(m[1]))
    })
    child.once('exit', (code) => {
      reject(new Error(`exited ${code}: ${stderr}`))
    })
  })
  return {
    child,
    port,
    configFile,
    stderr: () => stderr,
    cli: (...args) => {
      const r = spawnSync(process.execPath, [MAIN, 'keyserver', ...args, '--config', configFile], {
        encoding: 'utf8',
      })
      if (r.status !== 0)
        throw new Error(`keyserver ${args.join(' ')}: exit ${r.status}: ${r.stderr}`)
      return r.stdout
    },
    kill: () => {
      child.kill('SIGKILL')
    },
  }
}
