/**
 * @module
 * The key server: keyless protocol over mTLS, a sealed directory keystore with
 * k-of-n Shamir unseal, a PKCS#11 keystore, per-key region policy, node
 * revocation, rate limits and a hash-chained audit log.
 *
 * @example
 * ```ts
 * import { initKeystore, startKeyServer } from '@outpost/keyserver'
 * const shares = initKeystore(dir, { shares: 3, threshold: 2 })
 * const ks = await startKeyServer({ listen: '127.0.0.1:0', tls: { certFile, keyFile, caFile }, keystore: { type: 'directory', dir } })
 * ks.unseal(shares[0]); ks.unseal(shares[1])
 * ks.importKey(keyPemBytes, { denyCountries: ['RU'] })
 * ```
 */
export { startKeyServer, TLS12_CIPHERS } from './server.ts'
export type { KeyServer, KeyServerStatus, StartOptions, HostPort } from './server.ts'
export { KeyServerConfigSchema, loadKeyServerConfig, ENV_PREFIX } from './config.ts'
export type { KeyServerConfig, KeyServerConfigInput } from './config.ts'
export { initKeystore, DirectoryKeystore } from './sealed-keystore.ts'
export type { InitOptions, ShareProgress } from './sealed-keystore.ts'
export { Pkcs11Keystore } from './pkcs11-keystore.ts'
export type { Pkcs11Options } from './pkcs11-keystore.ts'
export type { Keystore, KeystoreKey, KeyListing, SealStatus } from './keystore.ts'
export { KeyType, loadSoftwareKey, softwareKeyFrom } from './keys.ts'
export {
  performOperation,
  softwareBackend,
  SERVER_CERTIFICATE_VERIFY_PREFIX,
  tls13SchemesFor,
} from './ops.ts'
export type { KeyBackend } from './ops.ts'
export { checkPolicy, parseKeyPolicy, KeyPolicySchema } from './policy.ts'
export type { KeyPolicy } from './policy.ts'
export { AuditLog, verifyAuditFile, verifyAuditText } from './audit.ts'
export type { AuditEntry, AuditRecord, AuditVerdict } from './audit.ts'
export { split, combine, encodeShare, decodeShare } from './shamir.ts'
export type { Share } from './shamir.ts'
export { KeyServerError, OperationError, ShareError } from './errors.ts'
export { adminRequest, sealedAdminRequest } from './admin.ts'
