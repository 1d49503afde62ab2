/**
 * The request handler given to `serveConnection`: identity, revocation, rate
 * and load limits, seal state, key lookup, policy, then the key operation.
 * Every request ends in exactly one metrics sample and one audit record, and
 * every refusal has its own error code:
 *
 *   no node id in the client certificate  Unauthorized (when required)
 *   node revoked                          Revoked
 *   opcode not a key operation            BadOpcode
 *   node over its token bucket            RateLimited
 *   too much work in flight overall       Busy
 *   keystore sealed                       Sealed
 *   no 20-byte SKI item                   Format (gokeyless answers Internal)
 *   SKI unknown                           KeyNotFound
 *   key policy refuses node or SNI        PolicyDenied
 *   key type, digest length, primitive    CryptoFailed
 *   SignTls13 content not a CertificateVerify input  BadContext
 */
import { toHex } from '@outpost/wire'
import {
  ErrorCode,
  Op,
  errorResponse,
  nameOfErrorCode,
  nameOfOp,
  type Operation,
  type OperationHandler,
  type PeerInfo,
} from './_keyless.ts'
import type { AuditLog } from './audit.ts'
import { OperationError } from './errors.ts'
import type { Keystore } from './keystore.ts'
import type { KeyServerMetrics } from './metrics.ts'
import { isKeyOperation, performOperation } from './ops.ts'
import { checkPolicy } from './policy.ts'
import type { TokenBuckets } from './rate-limit.ts'
import type { RevocationList } from './revocations.ts'

export interface HandlerDeps {
  readonly keystore: () => Keystore
  readonly revocations: RevocationList
  readonly buckets: TokenBuckets
  readonly audit: AuditLog | undefined
  readonly metrics: KeyServerMetrics
  readonly requireNodeIdentity: boolean
  readonly maxInFlightTotal: number
  /** Called for every refusal and failure (not for successes). */
  readonly onRefusal?: (peer: PeerInfo, op: string, result: string, message: string) => void
}

/** Text form of a 4- or 16-byte IP item, for the audit log. */
export function ipText(ip: Uint8Array | undefined): string | null {
  if (ip === undefined) return null
  if (ip.length === 4) return ip.join('.')
  if (ip.length === 16) {
    const groups: string[] = []
    for (let i = 0; i < 16; i += 2)
      groups.push((((ip[i] as number) << 8) | (ip[i + 1] as number)).toString(16))
    return groups.join(':')
  }
  return toHex(ip)
}

export function createHandler(deps: HandlerDeps): {
  handler: OperationHandler
  inFlight: () => number
} {
  let inFlight = 0
  const { metrics } = deps

  const handler: OperationHandler = async (op, peer) => {
    const start = performance.now()
    const opName = nameOfOp(op.opcode)
    const skiHex = op.ski?.length === 20 ? toHex(op.ski) : null
    let result = 'ok'
    let answer: Operation
    let counted = false
    try {
      const nodeId = peer.nodeId
      if (nodeId === undefined && deps.requireNodeIdentity) {
        throw new OperationError(
          ErrorCode.Unauthorized,
          'Cannot serve request: the client certificate names no node',
        )
      }
      if (nodeId !== undefined && deps.revocations.has(nodeId)) {
        throw new OperationError(
          ErrorCode.Revoked,
          `Cannot serve request: node "${nodeId}" is revoked`,
        )
      }
      if (!isKeyOperation(op.opcode)) {
        throw new OperationError(
          ErrorCode.BadOpcode,
          `Cannot serve request: unknown opcode ${opName}`,
        )
      }
      if (!deps.buckets.take(nodeId ?? peer.remoteAddress)) {
        throw new OperationError(
          ErrorCode.RateLimited,
          'Cannot serve request: node is over its rate limit',
        )
      }
      if (inFlight >= deps.maxInFlightTotal) {
        throw new OperationError(
          ErrorCode.Busy,
          `Cannot serve request: ${inFlight} operations in flight`,
        )
      }
      const keystore = deps.keystore()
      if (keystore.isSealed()) {
        throw new OperationError(ErrorCode.Sealed, 'Cannot serve request: the keystore is sealed')
      }
      if (skiHex === null) {
        throw new OperationError(ErrorCode.Format, 'Cannot serve request: no 20-byte SKI item')
      }
      const key = keystore.find(skiHex)
      if (key === undefined) {
        throw new OperationError(
          ErrorCode.KeyNotFound,
          `Cannot serve request: no key with SKI ${skiHex}`,
        )
      }
      checkPolicy(key.policy, peer, op.serverName)
      inFlight++
      counted = true
      metrics.inFlight.inc()
      const payload = await performOperation(key.backend, op)
      answer = { opcode: Op.Response, payload }
    } catch (e) {
      const code = e instanceof OperationError ? e.errorCode : ErrorCode.Internal
      result = nameOfErrorCode(code)
      answer = errorResponse(code)
      deps.onRefusal?.(peer, opName, result, (e as Error).message)
    } finally {
      if (counted) {
        inFlight--
        metrics.inFlight.dec()
      }
    }
    const seconds = (performance.now() - start) / 1000
    metrics.record(opName, result, seconds)
    deps.audit?.append({
      node: peer.nodeId ?? null,
      ski: skiHex,
      op: opName,
      sni: op.serverName ?? null,
      clientIp: ipText(op.clientIp),
      result,
      latencyUs: Math.round(seconds * 1e6),
    })
    return answer
  }
  return { handler, inFlight: () => inFlight }
}
