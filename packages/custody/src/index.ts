/**
 * @module
 * Edge custody: the node identity key sealed to a Tang-compatible service in the safe
 * region (Clevis JWE), a lease with a dead-man timer, and the brick state machine that
 * zeroises every registered secret when power, lease or trust goes.
 *
 * @example
 * ```ts
 * import { clevisDecrypt, TangServer } from '@outpost/custody'
 * const key = await clevisDecrypt(jwe) // Buffer; zeroise when done
 * ```
 */
export { JoseError, TangError, TransitionError, UnlockError } from './errors.ts'
export {
  clevisDecrypt,
  clevisEncryptSss,
  clevisEncryptTang,
  fetchAdvert,
  parseCompactJwe,
  type FetchOptions,
  type SssConfig,
  type TangPinConfig,
} from './tang/clevis.ts'
export { verifyAdvert, exchangeKeys, type AdvertJws, type VerifiedAdvert } from './tang/advert.ts'
export { thumbprint, type EcJwk } from './tang/jose.ts'
export { TangServer, type TangServerOptions } from './tang/server.ts'
export { TangKeyStore, TangKeyKind, type TangKey } from './tang/key-store.ts'
export {
  CustodyMachine,
  CustodyState,
  BrickReason,
  TRANSITIONS,
  canApply,
  type CustodyStatus,
  type CustodyOperation,
} from './state.ts'
export { SecretRegistry, type CloseHook } from './secrets.ts'
export { LeaseClient, DEFAULT_GRACE_MS, type LeaseAnswer, type LeaseOptions } from './lease.ts'
export { CustodyAgent, IDENTITY_SECRET, type CustodyAgentOptions } from './agent.ts'
export {
  readStateFile,
  writeStateFile,
  DEFAULT_STATE_FILE,
  type StateDocument,
} from './state-file.ts'
export { realTimers, type Timers } from './timers.ts'
export { STATUS_EXIT, printStatus } from './cli.ts'
export { hardenProcess, processHygiene, type ProcessHygiene } from './harden.ts'
