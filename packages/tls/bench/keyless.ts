/**
 * A key server on loopback for the keyless handshake benchmark: its own node CA, a server
 * certificate for 127.0.0.1, one node (edge) certificate for tls-demo, a fresh sealed
 * directory keystore (2-of-2 shares, unsealed at once) holding the benchmark leaf's key.
 * Everything lives in `dir`, a temp dir the caller removes.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createCa, issueNodeCert, issueServerCert } from '@outpost/pki'
import { initKeystore, startKeyServer, type KeyServer } from '@outpost/keyserver'

export interface BenchKeyServer {
  readonly port: number
  /** tls-demo arguments that make it sign on this key server. */
  readonly demoArgs: readonly string[]
  close(): Promise<void>
}

export async function startBenchKeyServer(
  dir: string,
  leafKeyFile: string,
): Promise<BenchKeyServer> {
  const write = (name: string, data: string | Uint8Array, mode = 0o600): string => {
    const p = join(dir, name)
    writeFileSync(p, data, { mode })
    return p
  }
  const ca = await createCa({ commonName: 'Outpost bench node CA', validDays: 2 })
  const caFile = write('ks-ca.pem', ca.certPem, 0o644)
  const srv = await issueServerCert({
    ca,
    commonName: 'keyserver',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validDays: 2,
  })
  const certFile = write('ks.pem', srv.certPem, 0o644)
  const keyFile = write('ks-key.pem', srv.keyPem)
  srv.keyPem.fill(0)
  const node = await issueNodeCert({
    ca,
    nodeId: 'bench-edge',
    region: 'eu-central',
    country: 'DE',
    validDays: 2,
  })
  const nodeCertFile = write('node.pem', node.certPem, 0o644)
  const nodeKeyFile = write('node-key.pem', node.keyPem)
  node.keyPem.fill(0)
  ca.keyPem.fill(0)

  const keystoreDir = join(dir, 'keystore')
  const shares = initKeystore(keystoreDir, { shares: 2, threshold: 2 })
  const server: KeyServer = await startKeyServer(
    {
      listen: '127.0.0.1:0',
      metricsListen: 'off',
      adminSocket: join(dir, 'ks-admin.sock'),
      tls: { certFile, keyFile, caFile },
      keystore: { type: 'directory', dir: keystoreDir },
      audit: { file: join(dir, 'ks-audit.jsonl') },
      log: { level: 'silent' },
    },
    { handleSighup: false, warn: () => undefined, env: {} },
  )
  for (const s of shares) server.unseal(s)
  const leafKey = readFileSync(leafKeyFile)
  try {
    server.importKey(leafKey)
  } finally {
    leafKey.fill(0)
  }
  return {
    port: server.address.port,
    demoArgs: [
      '--key-server',
      `127.0.0.1:${server.address.port}`,
      '--key-server-ca',
      caFile,
      '--client-cert',
      nodeCertFile,
      '--client-key',
      nodeKeyFile,
    ],
    close: () => server.close(),
  }
}
