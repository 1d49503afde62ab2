/**
 * A real key server (in process) trusting a test node CA, holding one ECDSA
 * P-256 key, and a keyless client for an enrolled node: the parts the
 * revocation tests (admin-socket push, remote feed) share.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { issueServerCert, type createCa } from '@outpost/pki'
import { KeylessClient, Op, skiOf, type Operation } from '@outpost/keyless'
import {
  initKeystore,
  SERVER_CERTIFICATE_VERIFY_PREFIX,
  startKeyServer,
  type KeyServer,
  type KeyServerConfigInput,
} from '@outpost/keyserver'
import type { NodeCreds } from './harness.ts'

const ECDSA_SECP256R1_SHA256 = 0x0403 // RFC 8446 §4.2.3

type Ca = Awaited<ReturnType<typeof createCa>>

/** Writes `data` to `dir/name` and returns the path. */
export function fileWriter(dir: string) {
  return (name: string, data: string | Uint8Array, mode = 0o600): string => {
    const p = join(dir, name)
    writeFileSync(p, data, { mode })
    return p
  }
}

/** Starts an unsealed key server for `ca`'s nodes with one P-256 key; returns it and the key's SKI. */
export async function startTestKeyServer(
  t: TestContext,
  dir: string,
  ca: Ca,
  extra: Partial<KeyServerConfigInput>,
): Promise<{ ks: KeyServer; ski: Uint8Array }> {
  const file = fileWriter(dir)
  const srv = await issueServerCert({
    ca,
    commonName: 'keyserver',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  })
  const shares = initKeystore(join(dir, 'keystore'), { shares: 1, threshold: 1 })
  const ks = await startKeyServer(
    {
      listen: '127.0.0.1:0',
      metricsListen: '127.0.0.1:0',
      adminSocket: join(dir, 'ks-admin.sock'),
      audit: { file: join(dir, 'audit.jsonl') },
      tls: {
        certFile: file('srv.pem', srv.certPem),
        keyFile: file('srv-key.pem', srv.keyPem),
        caFile: file('ca.pem', ca.certPem, 0o644),
      },
      keystore: { type: 'directory', dir: join(dir, 'keystore') },
      log: { level: 'silent' },
      ...extra,
    },
    { env: {}, handleSighup: false, warn: () => undefined },
  )
  t.after(() => ks.close())
  ks.unseal(shares[0] ?? '')
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  ks.importKey(Buffer.from(pair.privateKey.export({ format: 'pem', type: 'pkcs8' })))
  return { ks, ski: skiOf(pair.publicKey) }
}

/** A keyless client for an enrolled node and a fresh context-bound sign request. */
export function nodeSigner(
  t: TestContext,
  ks: KeyServer,
  ski: Uint8Array,
  caPem: string,
  creds: NodeCreds,
  clientIp: Uint8Array,
): { client: KeylessClient; sign: () => Operation } {
  const client = new KeylessClient({
    servers: [{ host: '127.0.0.1', port: ks.address.port, servername: 'localhost' }],
    ca: caPem,
    cert: creds.certPem,
    key: new Uint8Array(creds.keyPem),
    operationTimeoutMs: 2000,
    reconnectBaseMs: 50,
    reconnectMaxMs: 200,
  })
  t.after(() => client.close())
  const sign = (): Operation => ({
    opcode: Op.SignTls13,
    ski,
    payload: new Uint8Array([...SERVER_CERTIFICATE_VERIFY_PREFIX, ...randomBytes(32)]),
    signatureScheme: ECDSA_SECP256R1_SHA256,
    clientIp,
  })
  return { client, sign }
}
