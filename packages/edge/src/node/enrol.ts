/**
 * `outpost edge enrol`: makes this machine a node of a control plane.
 *
 * 1. generates the identity key (ECDSA P-256) and a CSR in memory;
 * 2. `POST /v1/enrol` with the one-time token → node certificate, node CA, node API URL,
 *    the node's Tang URL and its advert signing-key thumbprint, the bundle key;
 * 3. seals the identity key (PKCS#8 PEM bytes) as a Clevis JWE to that Tang URL,
 *    pinned to the thumbprint from step 2, and zeroises it: the key is never on disk
 *    in the clear (`clevis decrypt < identity.jwe` opens it while the control plane
 *    allows it).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { clevisEncryptTang } from '@outpost/custody'
import { createCsr, exportKeyPem } from '@outpost/control/node'
import { NODE_FILES, writeNodeFile, type NodeFile } from './node-file.ts'

export interface EnrolOptions {
  /** Operator URL of the control plane, e.g. http://control:8440 */
  readonly control: string
  readonly nodeId: string
  /** The one-time token from `outpost ctl nodes enrol`. */
  readonly token: string
  readonly dir: string
  readonly keyServers?: { readonly servers: readonly string[]; readonly caFile: string }
}

interface EnrolAnswer {
  certificatePem: string
  caPem: string
  nodeApiUrl?: string
  tangUrl?: string
  tangThumbprint?: string
  bundlePublicKeyPem: string
  graceSeconds: number
}

/** Enrols and writes the node directory; returns the node file. */
export async function enrolNode(o: EnrolOptions): Promise<NodeFile> {
  const dir = resolve(o.dir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const { csrPem, keys } = await createCsr(o.nodeId)
  const control = o.control.replace(/\/+$/, '')
  const res = await fetch(`${control}/v1/enrol`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ nodeId: o.nodeId, token: o.token, csr: csrPem }),
  }).catch((e: unknown) => {
    throw new Error(`Cannot reach the control plane at ${control}: ${(e as Error).message}`)
  })
  const answer = (await res.json()) as EnrolAnswer & { error?: { message?: string } }
  if (res.status !== 200) {
    throw new Error(`Cannot enrol: ${answer.error?.message ?? `HTTP ${res.status}`}`)
  }
  if (answer.tangUrl === undefined || answer.nodeApiUrl === undefined) {
    throw new Error('Cannot enrol: the control plane has no Tang server (tang.enabled)')
  }
  const pem = await exportKeyPem(keys.privateKey)
  let jwe: string
  try {
    jwe = await clevisEncryptTang(pem, {
      url: answer.tangUrl,
      ...(answer.tangThumbprint !== undefined
        ? { thp: answer.tangThumbprint }
        : { trustFirstUse: true }),
    })
  } finally {
    pem.fill(0)
  }
  writeFileSync(join(dir, NODE_FILES.identity), jwe + '\n', { mode: 0o600 })
  writeFileSync(join(dir, NODE_FILES.cert), answer.certificatePem, { mode: 0o644 })
  writeFileSync(join(dir, NODE_FILES.ca), answer.caPem, { mode: 0o644 })
  let keyServers: NodeFile['keyServers']
  if (o.keyServers !== undefined) {
    const dest = join(dir, 'keyserver-ca.pem')
    copyFileSync(
      isAbsolute(o.keyServers.caFile) ? o.keyServers.caFile : resolve(o.keyServers.caFile),
      dest,
    )
    keyServers = { servers: [...o.keyServers.servers], caFile: 'keyserver-ca.pem' }
  }
  const node: NodeFile = {
    nodeId: o.nodeId,
    control,
    nodeApiUrl: answer.nodeApiUrl,
    tangUrl: answer.tangUrl,
    bundlePublicKeyPem: answer.bundlePublicKeyPem,
    graceSeconds: answer.graceSeconds,
    bundleVersion: 0,
    ...(keyServers !== undefined ? { keyServers } : {}),
  }
  writeNodeFile(dir, node)
  return node
}
