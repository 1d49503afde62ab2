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
  /** On performance.now() time (the default): the handler passes its own reading. */
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

/** Whether the first `n` bytes of `a` and `b` are equal (both at least `n` long). */
function sameBytes(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false
  return true
}

// What a connection sent last, in text form: edges sign with the same few
// keys for the same few visitors in a row, so this skips building (and, for
// the SKI, hashing in the keystore lookup) new strings per request. Only
// text forms are cached, compared byte for byte; the key itself is looked
// up, and seal state, revocation and policy checked, on every request.
interface PeerTexts {
  ski: Uint8Array
  skiHex: string | null
  ip: Uint8Array
  ipLength: number
  ipText: string | null
}
const peerTexts = new WeakMap<PeerInfo, PeerTexts>()

function textsOf(peer: PeerInfo): PeerTexts {
  let t = peerTexts.get(peer)
  if (t === undefined) {
    t = { ski: new Uint8Array(20), skiHex: null, ip: new Uint8Array(16), ipLength: 0, ipText: null }
    peerTexts.set(peer, t)
  }
  return t
}

function skiHexOf(t: PeerTexts, ski: Uint8Array | undefined): string | null {
  if (ski?.length !== 20) return null
  if (t.skiHex !== null && sameBytes(t.ski, ski, 20)) return t.skiHex
  t.ski.set(ski)
  return (t.skiHex = toHex(ski))
}

function ipTextOf(t: PeerTexts, ip: Uint8Array | undefined): string | null {
  if (ip === undefined) return null
  const n = ip.length
  if (n !== 4 && n !== 16) return ipText(ip)
  if (t.ipText !== null && t.ipLength === n && sameBytes(t.ip, ip, n)) return t.ipText
  t.ip.set(ip)
  t.ipLength = n
  return (t.ipText = ipText(ip))
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
    texts: PeerTexts,
    opName: string,
    skiHex: string | null,
    start: number,
    result: string,
  ): void => {
    const end = performance.now()
    const seconds = (end - start) / 1000
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
    deps.audit?.append(
      {
        node: peer.nodeId ?? null,
        ski: skiHex,
        op: opName,
        sni: op.serverName ?? null,
        clientIp: ipTextOf(texts, op.clientIp),
        result,
        latencyUs: Math.round(seconds * 1e6),
      },
      end,
    )
  }
  const refuse = (
    op: Operation,
    peer: PeerInfo,
    texts: PeerTexts,
    opName: string,
    skiHex: string | null,
    start: number,
    e: unknown,
  ): Operation => {
    const code = e instanceof OperationError ? e.errorCode : ErrorCode.Internal
    const result = nameOfErrorCode(code)
    deps.onRefusal?.(peer, opName, result, (e as Error).message)
    record(op, peer, texts, opName, skiHex, start, result)
    return errorResponse(code)
  }

  // Not async: a software key answers in the same turn, so the answer joins
  // the other answers of its read (see serveConnection); an HSM key answers
  // with a promise.
  const handler: OperationHandler = (op, peer) => {
    const start = performance.now()
    const opName = nameOfOp(op.opcode)
    const texts = textsOf(peer)
    const skiHex = skiHexOf(texts, op.ski)
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
      if (!deps.buckets.take(nodeId ?? peer.remoteAddress, start)) {
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
      return refuse(op, peer, texts, opName, skiHex, start, e)
    }
    if (!(pending instanceof Promise)) {
      record(op, peer, texts, opName, skiHex, start, 'ok')
      return { opcode: Op.Response, payload: pending }
    }
    inFlight++
    metrics.inFlight.inc()
    return pending.then(
      (payload) => {
        inFlight--
        metrics.inFlight.dec()
        record(op, peer, texts, opName, skiHex, start, 'ok')
        return { opcode: Op.Response, payload }
      },
      (e: unknown) => {
        inFlight--
        metrics.inFlight.dec()
        return refuse(op, peer, texts, opName, skiHex, start, e)
      },
    )
  }
  return { handler, inFlight: () => inFlight }
}
