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
