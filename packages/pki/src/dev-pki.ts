/**
 * Files of the development PKI that `outpost pki` and `outpost up` write:
 *
 *   DIR/ca.pem, DIR/ca-key.pem                 the dev CA (signs everything below)
 *   DIR/servers/<name>.pem, <name>-key.pem     TLS server certificates
 *   DIR/nodes/<node-id>.pem, <node-id>-key.pem node client certificates
 *
 * Key files are created with mode 0600. This is a development convenience: in
 * production the node CA lives in the control plane and keys never touch disk
 * unencrypted on an edge.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createCa, issueNodeCert, issueServerCert, type Issued, type KeyType } from './certs.ts'
import type { NodeIdentity } from './identity.ts'

export interface DevPki {
  readonly dir: string
  readonly caFile: string
  readonly ca: Issued
}

function writeIssued(
  dir: string,
  name: string,
  issued: Issued,
): { certFile: string; keyFile: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const certFile = join(dir, `${name}.pem`)
  const keyFile = join(dir, `${name}-key.pem`)
  writeFileSync(keyFile, issued.keyPem, { mode: 0o600 })
  writeFileSync(certFile, issued.certPem, { mode: 0o644 })
  return { certFile, keyFile }
}

/** Reads a certificate and key pair written by this module. */
export function readIssued(certFile: string, keyFile: string): Issued {
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile) }
}

/** Opens the CA in `dir`, creating it if absent. */
export async function writeDevPki(dir: string, keyType: KeyType = 'ecdsa-p256'): Promise<DevPki> {
  const caFile = join(dir, 'ca.pem')
  const caKeyFile = join(dir, 'ca-key.pem')
  if (existsSync(caFile) && existsSync(caKeyFile)) {
    return { dir, caFile, ca: readIssued(caFile, caKeyFile) }
  }
  const ca = await createCa({ commonName: 'Outpost Dev CA', keyType })
  writeIssued(dir, 'ca', ca)
  return { dir, caFile, ca }
}

export async function writeServerCert(
  pki: DevPki,
  name: string,
  o: { dnsNames: readonly string[]; ipAddresses: readonly string[]; keyType?: KeyType },
): Promise<{ certFile: string; keyFile: string }> {
  const issued = await issueServerCert({ ca: pki.ca, commonName: name, ...o })
  try {
    return writeIssued(join(pki.dir, 'servers'), name, issued)
  } finally {
    issued.keyPem.fill(0)
  }
}

export async function writeNodeCert(
  pki: DevPki,
  id: NodeIdentity & { keyType?: KeyType },
): Promise<{ certFile: string; keyFile: string }> {
  const issued = await issueNodeCert({ ca: pki.ca, ...id })
  try {
    return writeIssued(join(pki.dir, 'nodes'), id.nodeId, issued)
  } finally {
    issued.keyPem.fill(0)
  }
}
