/**
 * @module
 * The Outpost control plane: operator API (+ OpenAPI), node API over mTLS
 * (enrolment, leases, STEKs, signed config bundles), storage on node:sqlite or
 * PostgreSQL, hash-chained audit, revocation push, screening wiring.
 *
 * @example
 * ```ts
 * import { startControlPlane, verifyBundle } from '@outpost/control'
 * const cp = await startControlPlane({ listen: '127.0.0.1:0', nodeListen: '127.0.0.1:0', database: { path: ':memory:' } })
 * const bundle = verifyBundle(signed, cp.bundlePublicKey, lastVersion)
 * await cp.close()
 * ```
 */
export { startControlPlane } from './server.ts'
export type { ControlPlane, StartControlOptions } from './server.ts'
export { verifyBundle, signBundle, BundleError } from './bundle.ts'
export type { SignedBundle, BundlePayload, BundleZone } from './bundle.ts'
export { ControlConfigSchema, loadControlConfig, ENV_PREFIX } from './config.ts'
export type { ControlConfig, ControlConfigInput } from './config.ts'
export { ControlError, ERRORS } from './errors.ts'
export type { ControlErrorCode } from './errors.ts'
export { createCsr } from './node-ca.ts'
export { adminSocketSink } from './revocation.ts'
export type { RevocationSink } from './revocation.ts'
export { Store } from './store/store.ts'
export { DecisionFeedClient } from './decision-feed-client.ts'
export type { DecisionFeedClientOptions, FeedDecision } from './decision-feed-client.ts'
export { signReferral, verifyReferral } from './programme.ts'
export type { ReferralClaims } from './programme.ts'
