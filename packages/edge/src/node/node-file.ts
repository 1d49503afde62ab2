/**
 * The node directory (`outpost edge enrol --dir DIR`, `outpost edge run --dir DIR`).
 * Nothing in it is secret in the clear:
 *
 *   node.json      this schema: node id, control-plane URLs, bundle key, key servers
 *   node.pem       the node certificate (public)
 *   ca.pem         the node CA (verifies the control plane's node API)
 *   identity.jwe   the identity key, sealed to the control plane's Tang for this node
 *   state.json     the custody state (sealed/unlocked/serving/bricked)
 *   bundle/        the zones' public certificate chains from the last bundle
 *   cache/         the encrypted cache (its key lives only in memory)
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { hostPort, validateConfig } from '@outpost/config'

export const NodeFileSchema = z
  .object({
    nodeId: z.string().min(1),
    /** Operator URL of the control plane (enrolment, Tang). */
    control: z.url(),
    /** The node API (mTLS). */
    nodeApiUrl: z.url(),
    /** The Tang URL the identity JWE is bound to. */
    tangUrl: z.url(),
    /** SPKI PEM of the bundle-signing key (pinned at enrolment). */
    bundlePublicKeyPem: z.string().min(1),
    /** The region's lease grace (updated from each lease). */
    graceSeconds: z.number().int().positive().default(30),
    /** Highest bundle version applied (rollback protection across restarts). */
    bundleVersion: z.number().int().nonnegative().default(0),
    /** Key servers the edge signs through (keyless, mTLS with the node identity). */
    keyServers: z
      .object({
        servers: z.array(hostPort).min(1),
        /** CA of the key servers' certificates, relative to the node directory or absolute. */
        caFile: z.string().min(1),
      })
      .strict()
      .optional(),
  })
  .strict()

export type NodeFile = z.infer<typeof NodeFileSchema>

export const NODE_FILES = {
  node: 'node.json',
  cert: 'node.pem',
  ca: 'ca.pem',
  identity: 'identity.jwe',
  state: 'state.json',
  bundle: 'bundle',
  cache: 'cache',
} as const

export function readNodeFile(dir: string): NodeFile {
  const file = join(dir, NODE_FILES.node)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (e) {
    throw new Error(
      `Cannot read ${file}: ${(e as Error).message} (enrol first: outpost edge enrol)`,
      {
        cause: e,
      },
    )
  }
  return validateConfig(NodeFileSchema, raw, file)
}

export function writeNodeFile(dir: string, n: NodeFile): void {
  const file = join(dir, NODE_FILES.node)
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(n, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, file)
}
