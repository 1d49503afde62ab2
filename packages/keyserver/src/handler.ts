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
 *
 * A software key signs synchronously, so the handler answers it at once (no
 * promise): the answer joins the other answers to the same read in one write.
 * Only operations that wait elsewhere (PKCS#11 in its worker) are in flight
 * and count towards `maxInFlightTotal`; a synchronous one never waits, and
 * requests beyond what the event loop handles stay in the socket (reading
 * stops when answers back up, see serveConnection).
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
import { isKeyOperation, operate } from './ops.ts'
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

// The SKI a connection used last, as hex: edges sign with the same few keys,
// so this skips building (and hashing, in the keystore lookup) a new string
// per request. Only the text form is cached; the key itself is looked up, and
// seal state, revocation and policy checked, on every request.
const lastSki = new WeakMap<PeerInfo, { ski: Uint8Array; hex: string }>()

function skiHexOf(peer: PeerInfo, ski: Uint8Array | undefined): string | null {
  if (ski?.length !== 20) return null
  const last = lastSki.get(peer)
  if (last !== undefined) {
    let same = true
    for (let i = 0; i < 20; i++) {
      if (last.ski[i] !== ski[i]) {
        same = false
        break
      }
    }
    if (same) return last.hex
  }
  const hex = toHex(ski)
  lastSki.set(peer, { ski: ski.slice(), hex })
  return hex
}

export function createHandler(deps: HandlerDeps): {
  handler: OperationHandler
  inFlight: () => number
} {
  let inFlight = 0
  const { metrics } = deps

  // Metrics slot of each opcode's "ok" result (-1: not looked up yet).
  const okSlot = new Int32Array(256).fill(-1)
  // Every request ends here: one metrics sample, one audit record.
  const record = (
    op: Operation,
    peer: PeerInfo,
    opName: string,
    skiHex: string | null,
    start: number,
    result: string,
  ): void => {
    const seconds = (performance.now() - start) / 1000
    if (result === 'ok') {
      let slot = okSlot[op.opcode] as number
      if (slot < 0) {
        slot = metrics.slot(opName, 'ok')
        okSlot[op.opcode] = slot
      }
      metrics.recordSlot(slot, seconds)
    } else {
      metrics.record(opName, result, seconds)
    }
    deps.audit?.append({
      node: peer.nodeId ?? null,
      ski: skiHex,
      op: opName,
      sni: op.serverName ?? null,
      clientIp: ipText(op.clientIp),
      result,
      latencyUs: Math.round(seconds * 1e6),
    })
  }
  const refuse = (
    op: Operation,
    peer: PeerInfo,
    opName: string,
    skiHex: string | null,
    start: number,
    e: unknown,
  ): Operation => {
    const code = e instanceof OperationError ? e.errorCode : ErrorCode.Internal
    const result = nameOfErrorCode(code)
    deps.onRefusal?.(peer, opName, result, (e as Error).message)
    record(op, peer, opName, skiHex, start, result)
    return errorResponse(code)
  }

  // Not async: a software key answers in the same turn, so the answer joins
  // the other answers of its read (see serveConnection); an HSM key answers
  // with a promise.
  const handler: OperationHandler = (op, peer) => {
    const start = performance.now()
    const opName = nameOfOp(op.opcode)
    const skiHex = skiHexOf(peer, op.ski)
    let pending: Uint8Array | Promise<Uint8Array>
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
      pending = operate(key.backend, op)
    } catch (e) {
      return refuse(op, peer, opName, skiHex, start, e)
    }
    if (!(pending instanceof Promise)) {
      record(op, peer, opName, skiHex, start, 'ok')
      return { opcode: Op.Response, payload: pending }
    }
    inFlight++
    metrics.inFlight.inc()
    return pending.then(
      (payload) => {
        inFlight--
        metrics.inFlight.dec()
        record(op, peer, opName, skiHex, start, 'ok')
        return { opcode: Op.Response, payload }
      },
      (e: unknown) => {
        inFlight--
        metrics.inFlight.dec()
        return refuse(op, peer, opName, skiHex, start, e)
      },
    )
  }
  return { handler, inFlight: () => inFlight }
}
